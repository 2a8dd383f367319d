/**
 * Agent server benchmarks (each server runs in its own process; the load generator runs here):
 *  1. health request rate with CURVE and ZAP on, against a bare zeromq.js ROUTER echo server doing the
 *     same MessagePack decode and encode over the same CURVE transport: the ratio is the server's cost.
 *  2. sequential round-trip latency p50 of health requests.
 *  3. spawn rate of a trivial command (`true`).
 *  4. server RSS with 1,000 concurrent sleeping agents.
 * The agent server runs as an esbuild bundle (compiled JavaScript, as in the image). Figures are
 * medians of several runs.
 *
 * Run directly with `echo-server` to start the baseline echo server (used by benchmark 1).
 */
import { Decoder, Encoder, decode, encode } from "@msgpack/msgpack";
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Dealer, Router, curveKeyPair } from "zeromq";
import { PROTOCOL_VERSION } from "../runtime/protocol/index.js";
import {
  rssBytes,
  startServerProcess,
  testServerConfig,
  type ServerProcess,
} from "../test/support/server-process.js";
import { median, percentile, round, type Report } from "./report.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const RUNS = 3;
const SLICES = 3;
const RATE_SECONDS = 1.5;
const CLIENTS = 4;
const WINDOW = 64;

export interface Keys {
  readonly server: { publicKey: string; secretKey: string };
  readonly client: { publicKey: string; secretKey: string };
}

function clientSocket(endpoint: string, keys: Keys): Dealer {
  const dealer = new Dealer({
    linger: 0,
    sendHighWaterMark: 0,
    receiveHighWaterMark: 0,
    curveServerKey: keys.server.publicKey,
    curvePublicKey: keys.client.publicKey,
    curveSecretKey: keys.client.secretKey,
  });
  dealer.connect(endpoint);
  return dealer;
}

function healthRequest(id: string): Uint8Array {
  return encode({ v: PROTOCOL_VERSION, id, method: "health", params: {} });
}

/** Replies per second from CLIENTS dealers keeping WINDOW requests in flight each. */
async function requestRate(endpoint: string, keys: Keys, seconds: number): Promise<number> {
  const sockets = Array.from({ length: CLIENTS }, () => clientSocket(endpoint, keys));
  // Warm up: every connection handshaken and answering.
  for (const socket of sockets) {
    await socket.send(healthRequest("warm"));
    await socket.receive();
  }
  let replies = 0;
  let stop = false;
  const frame = healthRequest("rate");
  const started = performance.now();
  await Promise.all(
    sockets
      .map(async (socket) => {
        for (let i = 0; i < WINDOW; i++) await socket.send(frame);
        for (;;) {
          await socket.receive();
          replies++;
          if (stop) continue;
          if (performance.now() - started >= seconds * 1000) {
            stop = true;
          } else {
            await socket.send(frame);
            continue;
          }
        }
      })
      .map((loop) =>
        Promise.race([loop, new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 500))]),
      ),
  );
  const elapsed = (performance.now() - started) / 1000;
  for (const socket of sockets) socket.close();
  return replies / elapsed;
}

/** Sequential round trips: p50 in milliseconds. */
export async function latencyP50(endpoint: string, keys: Keys, count: number): Promise<number> {
  const socket = clientSocket(endpoint, keys);
  const samples: number[] = [];
  for (let i = 0; i < count + 200; i++) {
    const started = performance.now();
    await socket.send(healthRequest(`l${i}`));
    await socket.receive();
    if (i >= 200) samples.push(performance.now() - started);
  }
  socket.close();
  return percentile(samples, 50);
}

interface Started {
  readonly endpoint: string;
  readonly pid: number;
  stop(): Promise<void>;
}

async function startEchoServer(keys: Keys): Promise<Started> {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "echo-server"], {
    env: { ...process.env, BENCH_SERVER_SECRET_KEY: keys.server.secretKey },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      text += chunk;
      const match = /^listening (\S+)$/m.exec(text);
      if (match) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`echo server exited with ${code}`)));
  });
  return {
    endpoint,
    pid: child.pid!,
    stop: async () => {
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

/** The baseline: a ROUTER that decodes each request and encodes a health-sized reply, nothing more. */
async function runEchoServer(): Promise<void> {
  const router = new Router({
    curveServer: true,
    curveSecretKey: process.env.BENCH_SERVER_SECRET_KEY!,
    linger: 0,
  });
  await router.bind("tcp://127.0.0.1:*");
  process.stdout.write(`listening ${router.lastEndpoint}\n`);
  const decoder = new Decoder();
  const encoder = new Encoder();
  const startedAt = Date.now();
  for await (const [identity, frame] of router) {
    const request = decoder.decode(frame!) as { id: string };
    const result = {
      healthy: true,
      ready: true,
      draining: false,
      serverId: "echo",
      version: "0.0.0",
      protocolVersion: PROTOCOL_VERSION,
      uptimeMs: Date.now() - startedAt,
      activeAgents: 0,
      maxAgents: 100,
      load: 0,
    };
    await router.send([identity!, encoder.encode({ v: PROTOCOL_VERSION, id: request.id, ok: true, result })]);
  }
}

/**
 * Bundles the server with esbuild, as production runs compiled JavaScript rather than tsx: the
 * process is smaller, and that matters because fork() for each spawn costs more in a bigger process.
 * The bundle lives under the repository's .tmp/ so node_modules resolves.
 */
export async function bundleServer(): Promise<{ entry: string; remove(): void }> {
  const { build } = await import("esbuild");
  mkdirSync(join(repoRoot, ".tmp"), { recursive: true });
  const dir = mkdtempSync(join(repoRoot, ".tmp", "bench-server-"));
  // The separate runner runs the same bundle as the agent uid (when started as root): let it read it.
  chmodSync(dir, 0o755);
  // server/main.* is the name runtime/server/main.ts recognises as "run me" (see isMainModule there).
  const entry = join(dir, "server", "main.mjs");
  await build({
    entryPoints: [join(repoRoot, "runtime/server/main.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outfile: entry,
    logLevel: "warning",
  });
  return { entry, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

let serverEntry: string | null = null;

async function startAgentServer(
  keys: Keys,
  dir: string,
  server: Record<string, unknown> = {},
): Promise<ServerProcess> {
  const secretKeyFile = join(dir, "server.key_secret");
  const allowlistFile = join(dir, "allowlist.txt");
  writeFileSync(secretKeyFile, keys.server.secretKey, { mode: 0o600 });
  writeFileSync(allowlistFile, `${keys.client.publicKey}\n`);
  return startServerProcess({
    ...(serverEntry ? { nodeArgs: [serverEntry] } : {}),
    config: testServerConfig({
      security: { curve: true, secretKeyFile, allowlistFile },
      server: { maxAgents: 2_000, ...server },
      runner: { retentionMs: 1_000 },
    }),
  });
}

/** Spawns `count` agents with `inFlight` requests outstanding; returns spawns per second. */
export async function spawnMany(
  endpoint: string,
  keys: Keys,
  count: number,
  inFlight: number,
  args: string[],
  command: string,
): Promise<{ rate: number; ids: string[] }> {
  const socket = clientSocket(endpoint, keys);
  const ids: string[] = [];
  let sent = 0;
  const send = () =>
    socket.send(
      encode({ v: PROTOCOL_VERSION, id: `s${sent++}`, method: "spawn", params: { command, args } }),
    );
  const started = performance.now();
  for (let i = 0; i < Math.min(inFlight, count); i++) await send();
  while (ids.length < count) {
    const [frame] = await socket.receive();
    const reply = decode(frame!) as { ok: boolean; result?: { id: string }; error?: { message: string } };
    if (!reply.ok) throw new Error(`spawn failed: ${reply.error?.message}`);
    ids.push(reply.result!.id);
    if (sent < count) await send();
  }
  const rate = count / ((performance.now() - started) / 1000);
  socket.close();
  return { rate, ids };
}

/** Node spawning `true` with the runner's stdio and process-group settings, from a fresh process. */
const RAW_SPAWN_SCRIPT = `
const { spawn } = require("node:child_process");
const count = Number(process.argv[1]);
let started = 0, done = 0;
const begin = performance.now();
function next() {
  if (started === count) return;
  started++;
  const child = spawn("true", [], { stdio: "pipe", detached: true });
  child.once("spawn", () => { if (++done === count) console.log(count / ((performance.now() - begin) / 1000)); else next(); });
  child.once("close", () => undefined);
}
for (let i = 0; i < 32; i++) next();
`;

/** The machine's reference: how fast a bare Node process spawns `true`, 32 at a time. */
async function rawSpawnRate(count: number): Promise<number> {
  const child = spawn(process.execPath, ["-e", RAW_SPAWN_SCRIPT, String(count)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  await new Promise((resolve) => child.once("exit", resolve));
  const rate = Number(output.trim());
  if (!Number.isFinite(rate)) throw new Error(`raw spawn reference printed ${JSON.stringify(output)}`);
  return rate;
}

async function request(endpoint: string, keys: Keys, method: string, params: unknown): Promise<unknown> {
  const socket = clientSocket(endpoint, keys);
  await socket.send(encode({ v: PROTOCOL_VERSION, id: "one", method, params }));
  const [frame] = await socket.receive();
  socket.close();
  return decode(frame!);
}

export async function run(report: Report): Promise<void> {
  const keys: Keys = { server: curveKeyPair(), client: curveKeyPair() };
  const dir = mkdtempSync(join(tmpdir(), "zeroplane-bench-"));
  const bundle = await bundleServer();
  serverEntry = bundle.entry;
  try {
    // 1 and 2: the agent server and the echo baseline, alternated so noise hits both alike.
    const serverRates: number[] = [];
    const echoRates: number[] = [];
    const serverLatency: number[] = [];
    const echoLatency: number[] = [];
    // Both run at once, measured in alternating short slices, so load from other work on the
    // machine falls on both alike.
    for (let runIndex = 0; runIndex < RUNS; runIndex++) {
      const echo = await startEchoServer(keys);
      const server = await startAgentServer(keys, dir).catch(async (error: unknown) => {
        await echo.stop();
        throw error;
      });
      try {
        for (let slice = 0; slice < SLICES; slice++) {
          const order = (runIndex + slice) % 2 === 0 ? ["echo", "server"] : ["server", "echo"];
          for (const which of order) {
            const endpoint = which === "echo" ? echo.endpoint : server.endpoints.router;
            (which === "echo" ? echoRates : serverRates).push(
              await requestRate(endpoint, keys, RATE_SECONDS),
            );
            (which === "echo" ? echoLatency : serverLatency).push(await latencyP50(endpoint, keys, 1_000));
          }
        }
      } finally {
        await echo.stop();
        await server.dispose();
      }
    }
    const rate = median(serverRates);
    const baselineRate = median(echoRates);
    report({
      name: "server.health_request_rate",
      value: round(rate, 0),
      unit: "requests/s",
      baseline: round(baselineRate, 0),
      ratio: round(rate / baselineRate),
      note: `CURVE+ZAP on; ${CLIENTS} DEALERs x ${WINDOW} in flight; baseline: bare zeromq.js ROUTER with CURVE doing msgpack decode+encode; target ratio >= 0.8`,
    });
    const p50 = median(serverLatency);
    const baselineP50 = median(echoLatency);
    report({
      name: "server.health_round_trip_p50",
      value: round(p50, 4),
      unit: "ms",
      baseline: round(baselineP50, 4),
      ratio: round(p50 / baselineP50),
      note: "sequential requests, one DEALER, CURVE+ZAP on; baseline: the echo server; target <= 0.15 ms",
    });

    // 3: spawn rate of `true`, against Node's own child_process.spawn of `true` from this process.
    const spawnRates: number[] = [];
    const rawSpawnRates: number[] = [];
    for (let runIndex = 0; runIndex < RUNS; runIndex++) {
      rawSpawnRates.push(await rawSpawnRate(600));
      const server = await startAgentServer(keys, dir);
      try {
        await spawnMany(server.endpoints.router, keys, 50, 16, [], "true");
        spawnRates.push((await spawnMany(server.endpoints.router, keys, 600, 32, [], "true")).rate);
      } finally {
        await server.dispose();
      }
    }
    report({
      name: "server.spawn_rate",
      value: round(median(spawnRates), 0),
      unit: "spawns/s",
      baseline: round(median(rawSpawnRates), 0),
      ratio: round(median(spawnRates) / median(rawSpawnRates)),
      note: "`true`, 32 spawn requests in flight, CURVE+ZAP on; baseline: a bare Node process spawning `true` (piped, detached, 32 at a time); target >= 300/s",
    });

    // 4: RSS with 1,000 sleeping agents.
    const rssValues: number[] = [];
    const idleRss: number[] = [];
    for (let runIndex = 0; runIndex < RUNS; runIndex++) {
      const server = await startAgentServer(keys, dir);
      try {
        idleRss.push(rssBytes(server.pid));
        const { ids } = await spawnMany(server.endpoints.router, keys, 1_000, 32, ["600"], "sleep");
        await new Promise((resolve) => setTimeout(resolve, 500));
        rssValues.push(rssBytes(server.pid));
        await request(server.endpoints.router, keys, "batchControl", { agentIds: ids, action: "kill" });
      } finally {
        await server.dispose();
      }
    }
    const mib = 1024 * 1024;
    report({
      name: "server.rss_1000_sleeping_agents",
      value: round(median(rssValues) / mib, 1),
      unit: "MiB",
      baseline: round(median(idleRss) / mib, 1),
      ratio: round(median(rssValues) / median(idleRss)),
      note: "server process RSS with 1,000 `sleep 600` agents; baseline: the same server idle; target <= 200 MiB",
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    bundle.remove();
    serverEntry = null;
  }
}

if (process.argv[2] === "echo-server") {
  await runEchoServer();
}
