/** `zeroplane stats`: request, error and agent counters of every server. */
import type { Command } from "commander";
import { AGENT_STATUSES, type StatsResult } from "../../protocol/index.js";
import {
  action,
  exitCodeFor,
  formatTable,
  printOutcomesJson,
  withClient,
  withClientOptions,
  type ClientFlags,
} from "../shared.js";

const sum = (counts: Readonly<Record<string, number>>) => Object.values(counts).reduce((a, b) => a + b, 0);

export function register(program: Command): void {
  withClientOptions(program.command("stats").description("show counters of every server")).action(
    action(async (flags: ClientFlags) => {
      return withClient(flags, async (client) => {
        const outcomes = await client.clusterStats();
        const answered = outcomes.flatMap((o) => (o.ok ? [{ endpoint: o.endpoint, stats: o.result }] : []));
        if (flags.json) {
          printOutcomesJson(outcomes, "stats");
        } else {
          const active = (s: StatsResult) =>
            AGENT_STATUSES.filter((status) => ["starting", "running", "paused", "stopping"].includes(status))
              .map((status) => s.agentsByStatus[status] ?? 0)
              .reduce((a, b) => a + b, 0);
          process.stdout.write(
            formatTable(answered, [
              { header: "SERVER", value: (r) => r.stats.serverId },
              { header: "REQUESTS", value: (r) => sum(r.stats.requests) },
              { header: "ERRORS", value: (r) => sum(r.stats.errors) },
              { header: "SPAWNS", value: (r) => r.stats.spawns },
              { header: "SPAWN-FAILURES", value: (r) => r.stats.spawnFailures },
              { header: "ACTIVE", value: (r) => active(r.stats) },
              { header: "REPLAYS", value: (r) => r.stats.idempotentReplays },
              { header: "AUTH-REJECTIONS", value: (r) => r.stats.authRejections },
              { header: "DROPPED-BYTES", value: (r) => r.stats.outputBytesDropped },
              { header: "ENDPOINT", value: (r) => r.endpoint },
            ]),
          );
        }
        const failed = outcomes.find((o) => !o.ok);
        if (failed && !failed.ok) {
          if (!flags.json) process.stderr.write(`zeroplane: ${failed.endpoint}: ${failed.error.message}\n`);
          return exitCodeFor(failed.error);
        }
        return 0;
      });
    }),
  );
}
