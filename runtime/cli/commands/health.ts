/**
 * `zeroplane health`: every server's health. Exit 0 when all are healthy, 1 when one answers
 * unhealthy or draining, 3 when one cannot be reached, 4 when authentication fails.
 */
import type { Command } from "commander";
import type { HealthResult } from "../../protocol/index.js";
import type { ServerOutcome } from "../../client/index.js";
import {
  EXIT_CODES,
  action,
  exitCodeFor,
  formatAge,
  formatTable,
  printOutcomesJson,
  withClient,
  withClientOptions,
  type ClientFlags,
} from "../shared.js";

/** The worst exit code among the servers' outcomes. */
export function healthExitCode(outcomes: ReadonlyArray<ServerOutcome<HealthResult>>): number {
  const severity = [
    EXIT_CODES.ok,
    EXIT_CODES.serverError,
    EXIT_CODES.unreachable,
    EXIT_CODES.auth,
  ] as number[];
  let worst: number = EXIT_CODES.ok;
  for (const outcome of outcomes) {
    const code = outcome.ok
      ? outcome.result.healthy && outcome.result.ready && !outcome.result.draining
        ? EXIT_CODES.ok
        : EXIT_CODES.serverError
      : exitCodeFor(outcome.error);
    if (severity.indexOf(code) > severity.indexOf(worst)) worst = code;
  }
  return worst;
}

export function register(program: Command): void {
  withClientOptions(program.command("health").description("show the health and load of every server")).action(
    action(async (flags: ClientFlags) => {
      return withClient(flags, async (client) => {
        const outcomes = await client.clusterHealth();
        if (flags.json) {
          printOutcomesJson(outcomes, "health");
        } else {
          const now = Date.now();
          process.stdout.write(
            formatTable(outcomes, [
              { header: "ENDPOINT", value: (o) => o.endpoint },
              { header: "SERVER", value: (o) => (o.ok ? o.result.serverId : o.serverId) },
              {
                header: "STATE",
                value: (o) =>
                  !o.ok
                    ? "unreachable"
                    : o.result.draining
                      ? "draining"
                      : !o.result.healthy
                        ? "unhealthy"
                        : o.result.ready
                          ? "ready"
                          : "not-ready",
              },
              {
                header: "AGENTS",
                value: (o) => (o.ok ? `${o.result.activeAgents}/${o.result.maxAgents}` : null),
              },
              { header: "LOAD", value: (o) => (o.ok ? `${Math.round(o.result.load * 100)}%` : null) },
              { header: "VERSION", value: (o) => (o.ok ? o.result.version : null) },
              { header: "UPTIME", value: (o) => (o.ok ? formatAge(now - o.result.uptimeMs, now) : null) },
            ]),
          );
          for (const outcome of outcomes) {
            if (!outcome.ok)
              process.stderr.write(`zeroplane: ${outcome.endpoint}: ${outcome.error.message}\n`);
          }
        }
        return healthExitCode(outcomes);
      });
    }),
  );
}
