/**
 * The separate runner's cost: spawn rate and health round trip with agents in a separate runner
 * process (runner.mode "process", as the agent uid when run as root) as a ratio to agents inline in
 * the server (runner.mode "inline"), measured in the same run, alternating the two so machine noise
 * hits both alike. Each server runs as the esbuild bundle, as in production. Medians of RUNS.
 *
 *   npx tsx bench/run.ts runner
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { curveKeyPair } from "zeromq";
import type { RunnerMode } from "../runtime/config/index.js";
import { startServerProcess, testServerConfig, type ServerProcess } from "../test/support/server-process.js";
import { median, round, type Report } from "./report.js";
import { sequentialP50, type Keys } from "./load.js";
import { spawnMany } from "./server.bench.js";
import { bundleServer } from "./servers.js";

const RUNS = 3;
const MODES: readonly RunnerMode[] = ["inline", "process"];

async function startServer(entry: string, keys: Keys, dir: string, mode: RunnerMode): Promise<ServerProcess> {
  const secretKeyFile = join(dir, `server-${mode}.key_secret`);
  const allowlistFile = join(dir, `allowlist-${mode}.txt`);
  writeFileSync(secretKeyFile, keys.server.secretKey, { mode: 0o600 });
  writeFileSync(allowlistFile, `${keys.client.publicKey}\n`);
  return startServerProcess({
    nodeArgs: [entry],
    config: testServerConfig({
      security: { curve: true, secretKeyFile, allowlistFile },
      server: { maxAgents: 2_000 },
      runner: { retentionMs: 1_000, mode },
    }),
  });
}

export async function run(report: Report): Promise<void> {
  const keys: Keys = { server: curveKeyPair(), client: curveKeyPair() };
  const dir = mkdtempSync(join(tmpdir(), "zeroplane-bench-runner-"));
  const bundle = await bundleServer();
  const spawnRates: Record<RunnerMode, number[]> = { inline: [], process: [], socket: [] };
  const latencies: Record<RunnerMode, number[]> = { inline: [], process: [], socket: [] };
  try {
    for (let runIndex = 0; runIndex < RUNS; runIndex++) {
      const order = runIndex % 2 === 0 ? MODES : [...MODES].reverse();
      for (const mode of order) {
        const server = await startServer(bundle.entry, keys, dir, mode);
        try {
          const endpoint = server.endpoints.router;
          await spawnMany(endpoint, keys, 50, 16, [], "true");
          spawnRates[mode].push((await spawnMany(endpoint, keys, 600, 32, [], "true")).rate);
          latencies[mode].push(await sequentialP50(endpoint, keys, 1_000));
        } finally {
          await server.dispose();
        }
      }
    }
    const spawnSeparate = median(spawnRates.process);
    const spawnInline = median(spawnRates.inline);
    report({
      name: "runner.separate_spawn_rate",
      value: round(spawnSeparate, 0),
      unit: "spawns/s",
      baseline: round(spawnInline, 0),
      ratio: round(spawnSeparate / spawnInline),
      note: "`true`, 32 spawn requests in flight, CURVE+ZAP on, agents in a separate runner process; baseline: runner.mode inline, same run; target ratio >= 0.9",
    });
    const latencySeparate = median(latencies.process);
    const latencyInline = median(latencies.inline);
    report({
      name: "runner.separate_health_round_trip_p50",
      value: round(latencySeparate, 4),
      unit: "ms",
      baseline: round(latencyInline, 4),
      ratio: round(latencyInline / latencySeparate),
      note: "sequential health requests, one DEALER, CURVE+ZAP on, with a separate runner; baseline: runner.mode inline, same run; ratio = inline / separate (higher is better), target >= 0.9",
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    bundle.remove();
  }
}
