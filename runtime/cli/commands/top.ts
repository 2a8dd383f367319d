/**
 * `zeroplane top`: servers and agents, repainted in the terminal every --interval (load, agents by
 * status, newest agents, status changes from the stream), for people who would rather watch than poll.
 */
import type { Command } from "commander";
import type { ZeroplaneClient } from "../../client/index.js";
import { action, parsePositiveInt, withClient, withClientOptions, type ClientFlags } from "../shared.js";
import { renderTop, TOP_ROWS, type TopEvent, type TopSnapshot } from "../top.js";

/** Clear the screen and go home: repaint in place. */
const CLEAR = "\x1b[H\x1b[2J";

interface TopFlags extends ClientFlags {
  readonly interval: number;
  readonly iterations?: number;
}

async function snapshot(
  client: ZeroplaneClient,
  events: readonly TopEvent[],
  intervalMs: number,
): Promise<TopSnapshot> {
  const [health, stats, page] = await Promise.all([
    client.clusterHealth(),
    client.clusterStats(),
    client.list({ limit: TOP_ROWS }).catch(() => ({ agents: [] })),
  ]);
  return { now: Date.now(), health, stats, agents: page.agents, events: [...events], intervalMs };
}

export function register(program: Command): void {
  withClientOptions(
    program
      .command("top")
      .description("watch servers and agents, repainted in the terminal (Ctrl-C quits)")
      .option("--interval <ms>", "repaint every this many milliseconds", parsePositiveInt("--interval"), 2000)
      .option(
        "--iterations <n>",
        "quit after this many repaints (default: until Ctrl-C)",
        parsePositiveInt("--iterations"),
      ),
  ).action(
    action(async (flags: TopFlags) => {
      await withClient(flags, async (client) => {
        const events: TopEvent[] = [];
        const unsubscribe = client.subscribe({ kinds: ["status"] }, (event) => {
          if (event.kind !== "status") return;
          events.push({
            time: Date.now(),
            agentId: event.agent.id,
            serverId: event.agent.serverId,
            previous: event.previous,
            status: event.agent.status,
          });
          if (events.length > TOP_ROWS) events.shift();
        });
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        try {
          for (let repaint = 1; !stop.signal.aborted; repaint++) {
            const screen = await snapshot(client, events, flags.interval);
            if (flags.json)
              process.stdout.write(
                `${JSON.stringify(screen, (_key, value: unknown) => (value instanceof Error ? value.message : value))}\n`,
              );
            else process.stdout.write(`${process.stdout.isTTY ? CLEAR : ""}${renderTop(screen)}`);
            if (flags.iterations !== undefined && repaint >= flags.iterations) break;
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, flags.interval);
              stop.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
            });
          }
        } finally {
          unsubscribe();
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
        }
      });
    }),
  );
}
