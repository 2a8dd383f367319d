/** `zeroplane list`: agents on every server, filtered by status and labels. */
import type { Command } from "commander";
import { AGENT_STATUSES } from "../../protocol/index.js";
import { formatAgents } from "../agents-format.js";
import { selectionFilter, withSelectionOptions, type SelectionFlags } from "../selection.js";
import {
  action,
  parsePositiveInt,
  printJson,
  withClient,
  withClientOptions,
  type ClientFlags,
} from "../shared.js";

interface ListFlags extends ClientFlags, SelectionFlags {
  readonly limit?: number;
  readonly cursor?: string;
  readonly all?: boolean;
}

export function register(program: Command): void {
  withClientOptions(
    withSelectionOptions(program.command("list").alias("ls").description("list agents on every server"), {
      status: `only these statuses, repeatable or comma-separated (${AGENT_STATUSES.join(", ")})`,
      label: "only agents with this label, repeatable",
    })
      .option("--limit <n>", "agents per page (per server)", parsePositiveInt("--limit"))
      .option("--cursor <cursor>", "continue from a previous page's cursor")
      .option("-a, --all", "fetch every page"),
  ).action(
    action(async (flags: ListFlags) => {
      await withClient(flags, async (client) => {
        const params = { ...selectionFilter(flags), limit: flags.limit };
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
