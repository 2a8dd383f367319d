/** Selecting agents by status and labels: the -s/--status and -l/--label flags of list and batch. */
import type { Command } from "commander";
import { AGENT_STATUSES, type AgentStatus } from "../protocol/index.js";
import { CliError, EXIT_CODES, collectRepeatable, parsePairs } from "./shared.js";

/** The selection flags as Commander gives them. */
export interface SelectionFlags {
  readonly status?: string[];
  readonly label?: string[];
}

/** Adds the repeatable -s/--status and -l/--label flags with each command's own help text. */
export function withSelectionOptions(command: Command, help: { status: string; label: string }): Command {
  return command
    .option("-s, --status <status>", help.status, collectRepeatable)
    .option("-l, --label <key=value>", help.label, collectRepeatable);
}

/** Parses repeatable, comma-separated --status values. */
export function parseStatuses(values: readonly string[] | undefined): AgentStatus[] | undefined {
  if (!values || values.length === 0) return undefined;
  const statuses = values
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter(Boolean);
  for (const status of statuses) {
    if (!(AGENT_STATUSES as readonly string[]).includes(status)) {
      throw new CliError(
        `unknown status "${status}". Fix: use one of ${AGENT_STATUSES.join(", ")}.`,
        EXIT_CODES.usage,
      );
    }
  }
  return statuses as AgentStatus[];
}

/** The list filter the selection flags give: statuses and labels, each undefined when not given. */
export function selectionFilter(flags: SelectionFlags): {
  status: AgentStatus[] | undefined;
  labels: Record<string, string> | undefined;
} {
  return {
    status: parseStatuses(flags.status),
    labels: flags.label ? parsePairs("--label", flags.label) : undefined,
  };
}
