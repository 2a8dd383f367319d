/**
 * One load-generating client process for bench/cluster.bench.ts: connects the SDK to every given
 * server, waits until `startAt` (epoch ms, so all client processes start together), then runs health
 * and then spawn throughput for `durationMs` each and prints `{"health": n, "spawn": n}` (operations
 * per second).
 *
 *   node --import tsx bench/cluster-client.ts <startAt> <durationMs> <router,...> <publish,...>
 */
import { ZeroplaneClient } from "../runtime/client/index.js";

const HEALTH_CONCURRENCY = 64;
const SPAWN_CONCURRENCY = 16;
const AGENT = { command: "true", args: [] as string[] };

/** Runs `op` with `concurrency` workers until `until` (performance.now()); returns operations per second. */
export async function throughput(
  concurrency: number,
  durationMs: number,
  op: () => Promise<unknown>,
): Promise<number> {
  const started = performance.now();
  const deadline = started + durationMs;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await op();
        done += 1;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const [startAt, durationMs, routers, publishers] = process.argv.slice(2);
  const endpoints = routers!.split(",");
  const client = await ZeroplaneClient.connect({
    endpoints,
    publishEndpoints: publishers!.split(","),
    placement: "round-robin",
    healthRefreshMs: 0,
    timeoutMs: 60_000,
  });
  try {
    await client.waitForServers({ timeoutMs: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAt) - Date.now())));
    let turn = 0;
    const health = await throughput(HEALTH_CONCURRENCY, Number(durationMs), () =>
      client.health({ endpoint: endpoints[turn++ % endpoints.length] }),
    );
    const spawn = await throughput(SPAWN_CONCURRENCY, Number(durationMs), () => client.spawn(AGENT));
    process.stdout.write(`${JSON.stringify({ health, spawn })}\n`);
  } finally {
    client.close();
  }
}

if (process.argv[1]?.endsWith("cluster-client.ts")) await main();
