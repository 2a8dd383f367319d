/**
 * `zeroplane batch <action> [agent-ids...]`: one action on many agents, given by id or selected by
 * status and labels.
 */
import { Option, type Command } from "commander";
import {
  CONTROL_ACTIONS,
  TERMINAL_STATUSES,
  type BatchControlResult,
  type ControlAction,
} from "../../protocol/index.js";
import {
  CliError,
  EXIT_CODES,
  action,
  formatTable,
  parsePositiveInt,
  printJson,
  withClient,
  withClientOptions,
  type ClientFlags,
} from "../shared.js";
import { selectionFilter, withSelectionOptions, type SelectionFlags } from "../selection.js";

interface BatchFlags extends ClientFlags, SelectionFlags {
  readonly signal?: string;
  readonly grace?: number;
  readonly data?: string;
  readonly mode: "fail-fast" | "continue";
}

export function formatBatch(result: BatchControlResult): string {
  return formatTable(result.results, [
    { header: "ID", value: (r) => r.agentId },
    { header: "RESULT", value: (r) => (r.ok ? "ok" : r.skipped ? "skipped" : "failed") },
    { header: "STATUS", value: (r) => r.agent?.status },
    { header: "ERROR", value: (r) => (r.error ? `${r.error.code}: ${r.error.message}` : null) },
  ]);
}

export function register(program: Command): void {
  withClientOptions(
    withSelectionOptions(
      program
        .command("batch")
        .description("apply one action to many agents: by id, or every agent matching --status/--label")
        .addArgument(program.createArgument("<action>", "what to do").choices([...CONTROL_ACTIONS]))
        .argument("[agent-ids...]", "agent ids (or select with --status / --label)"),
      {
        status:
          "select agents with these statuses, repeatable or comma-separated (default: those still running, paused, starting or stopping)",
        label: "select agents with this label, repeatable",
      },
    )
      .option("--signal <name>", "for signal: the signal name, such as SIGUSR1")
      .option(
        "--grace <ms>",
        "for stop: milliseconds between SIGTERM and SIGKILL",
        parsePositiveInt("--grace"),
      )
      .option("--data <text>", "for write: text for the agents' stdin")
      .addOption(
        new Option("--mode <mode>", "on the first failure")
          .choices(["fail-fast", "continue"])
          .default("continue"),
      ),
  ).action(
    action(async (controlAction: ControlAction, ids: string[], flags: BatchFlags) => {
      const selecting = Boolean(flags.status?.length || flags.label?.length);
      if (ids.length === 0 && !selecting) {
        throw new CliError(
          "no agents given. Fix: list agent ids, or select with --status and/or --label (for example: zeroplane batch stop --label team=search).",
          EXIT_CODES.usage,
        );
      }
      if (ids.length > 0 && selecting) {
        throw new CliError("give agent ids or --status/--label, not both.", EXIT_CODES.usage);
      }
      return withClient(flags, async (client) => {
        let agentIds = ids;
        if (selecting) {
          const selected = await client.listAll(selectionFilter(flags));
          for (const { endpoint, error } of selected.unreachable) {
            process.stderr.write(
              `zeroplane: warning: ${endpoint} did not answer, its agents are left out: ${error}\n`,
            );
          }
          // Without --status, agents that already ended are not selected: no action applies to them.
          const live = flags.status?.length
            ? selected.agents
            : selected.agents.filter((agent) => !TERMINAL_STATUSES.has(agent.status));
          const ended = selected.agents.length - live.length;
          if (ended > 0 && !flags.json) {
            process.stderr.write(
              `zeroplane: left out ${ended} agent(s) that already ended (select them with --status to include them)\n`,
            );
          }
          agentIds = live.map((a) => a.id);
          if (agentIds.length === 0) {
            if (flags.json) printJson({ results: [] });
            else process.stderr.write("no agents matched; nothing to do\n");
            return EXIT_CODES.ok;
          }
        }
        const result = await client.batchControl({
          agentIds,
          action: controlAction,
          signal: flags.signal,
          graceMs: flags.grace,
          data: flags.data,
          mode: flags.mode,
        });
        if (flags.json) printJson(result);
        else process.stdout.write(formatBatch(result));
        return result.results.every((r) => r.ok) ? EXIT_CODES.ok : EXIT_CODES.serverError;
      });
    }),
  );
}
