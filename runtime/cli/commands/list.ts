/** `zeroplane list`: agents on every server, filtered by status and labels. */
import type { Command } from "commander";
import { AGENT_STATUSES, type AgentStatus } from "../../protocol/index.js";
import { formatAgents } from "../agents-format.js";
import {
  CliError,
  EXIT_CODES,
  action,
  collectRepeatable,
  parsePairs,
  parsePositiveInt,
  printJson,
  withClient,
  withClientOptions,
  type ClientFlags,
} from "../shared.js";

interface ListFlags extends ClientFlags {
  readonly status?: string[];
  readonly label?: string[];
  readonly limit?: number;
  readonly cursor?: string;
  readonly all?: boolean;
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

export function register(program: Command): void {
  withClientOptions(
    program
      .command("list")
      .alias("ls")
      .description("list agents on every server")
      .option(
        "-s, --status <status>",
        `only these statuses, repeatable or comma-separated (${AGENT_STATUSES.join(", ")})`,
        collectRepeatable,
      )
      .option("-l, --label <key=value>", "only agents with this label, repeatable", collectRepeatable)
      .option("--limit <n>", "agents per page (per server)", parsePositiveInt("--limit"))
      .option("--cursor <cursor>", "continue from a previous page's cursor")
      .option("-a, --all", "fetch every page"),
  ).action(
    action(async (flags: ListFlags) => {
      await withClient(flags, async (client) => {
        const params = {
          status: parseStatuses(flags.status),
          labels: flags.label ? parsePairs("--label", flags.label) : undefined,
          limit: flags.limit,
        };
        const page = flags.all
          ? await client.listAll(params)
          : await client.list({ ...params, cursor: flags.cursor });
        for (const { endpoint, error } of page.unreachable) {
          process.stderr.write(
            `zeroplane: warning: ${endpoint} did not answer, its agents are missing: ${error}\n`,
          );
        }
        if (flags.json) return printJson(page);
        process.stdout.write(formatAgents(page.agents));
        if (page.nextCursor) {
          process.stderr.write(`more agents: zeroplane list --cursor ${page.nextCursor} (or --all)\n`);
        }
      });
    }),
  );
}
