/**
 * Agent server benchmarks, each a ratio to a floor measured in the same run:
 *  1. health request rate, and each request's latency under that load, with CURVE and ZAP on,
 *     against a bare zeromq.js ROUTER echo (bench/echo-server.ts) that decodes the same request and
 *     encodes the same health result over CURVE. Both run at once and are measured in alternating
 *     slices so machine noise hits both alike; also the CPU time each process spends per request,
 *     which noise from other work barely moves.
 *  2. sequential round-trip latency p50 of health requests, against the same echo.
 *  3. spawn rate of `true` through the server (separate runner, runner.mode process, the default),
 *     against a bare Node process spawning `true` the same way.
 *  4. server RSS with 1,000 concurrent sleeping agents, against the same server idle.
 * The agent server runs as an esbuild bundle. Figures are medians of RUNS runs.
 *
 *   npx tsx bench/run.ts server        (BENCH_PROFILE=1 to write CPU profiles to bench/out/profiles)
 */
import { decode } from "@msgpack/msgpack";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { curveKeyPair } from "zeromq";
import { rssBytes } from "../test/support/server-process.js";
import {
  clientSocket,
  cpuMs,
  loadRate,
  requestFrame,
  sequentialP50,
  type Keys,
  type LoadResult,
} from "./load.js";
import { median, round, type Report, compared } from "./report.js";
import { bundleServer, startAgentServer, startEchoServer } from "./servers.js";

const RUNS = 5;
const SLICES = 4;
const SLICE_SECONDS = 1;
const CLIENTS = 4;
const WINDOW = 32;

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
  const send = () => socket.send(requestFrame("spawn", `s${sent++}`, { command, args }));
  const started = performance.now();
  try {
    for (let i = 0; i < Math.min(inFlight, count); i++) await send();
    while (ids.length < count) {
      const [frame] = await socket.receive();
      const reply = decode(frame!) as { ok: boolean; result?: { id: string }; error?: { message: string } };
      if (!reply.ok) throw new Error(`spawn failed: ${reply.error?.message}`);
      ids.push(reply.result!.id);
      if (sent < count) await send();
    }
  } finally {
    socket.close();
  }
  return { rate: count / ((performance.now() - started) / 1000), ids };
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

/** The machine's spawn floor: a bare Node process spawning `true`, 32 at a time. */
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
  try {
    await socket.send(requestFrame(method, "one", params));
    const [frame] = await socket.receive();
    return decode(frame!);
  } finally {
    socket.close();
  }
}

interface Side {
  readonly rates: number[];
  readonly p50s: number[];
  readonly p99s: number[];
  readonly cpuUs: number[];
  readonly sequentialP50s: number[];
}

const side = (): Side => ({ rates: [], p50s: [], p99s: [], cpuUs: [], sequentialP50s: [] });

/** One run's slices for one side, summed: rate, latency medians across slices, CPU per request. */
function summariseRun(into: Side, slices: Array<{ load: LoadResult; cpuMs: number; seconds: number }>): void {
  const requests = slices.reduce((total, s) => total + s.load.rate * s.seconds, 0);
  const seconds = slices.reduce((total, s) => total + s.seconds, 0);
  into.rates.push(requests / seconds);
  into.p50s.push(median(slices.map((s) => s.load.latency.p50)));
  into.p99s.push(median(slices.map((s) => s.load.latency.p99)));
  into.cpuUs.push((slices.reduce((total, s) => total + s.cpuMs, 0) * 1000) / requests);
}

async function measureRequests(
  entry: string,
  keys: Keys,
  dir: string,
): Promise<{ server: Side; echo: Side; ratios: number[] }> {
  const server = side();
  const echo = side();
  const ratios: number[] = [];
  const frame = requestFrame("health", "rate");
  for (let runIndex = 0; runIndex < RUNS; runIndex++) {
    const echoProcess = await startEchoServer(keys);
    const agentServer = await startAgentServer(entry, keys, dir, {}, `health-${runIndex}`).catch(
      async (error: unknown) => {
        await echoProcess.stop();
        throw error;
      },
    );
    const targets = {
      server: { endpoint: agentServer.endpoints.router, pid: agentServer.pid },
      echo: { endpoint: echoProcess.endpoint, pid: echoProcess.pid },
    };
    const slices = {
      server: [] as Parameters<typeof summariseRun>[1],
      echo: [] as Parameters<typeof summariseRun>[1],
    };
    try {
      for (let slice = 0; slice < SLICES; slice++) {
        const order =
          (runIndex + slice) % 2 === 0 ? (["echo", "server"] as const) : (["server", "echo"] as const);
        for (const which of order) {
          const target = targets[which];
          const cpuBefore = cpuMs(target.pid);
          const started = performance.now();
          const load = await loadRate(target.endpoint, keys, {
            clients: CLIENTS,
            window: WINDOW,
            seconds: SLICE_SECONDS,
            frame,
          });
          const seconds = (performance.now() - started) / 1000;
          slices[which].push({ load, cpuMs: cpuMs(target.pid) - cpuBefore, seconds });
        }
      }
      for (const which of ["server", "echo"] as const) {
        (which === "server" ? server : echo).sequentialP50s.push(
          await sequentialP50(targets[which].endpoint, keys, 1_000),
        );
      }
      summariseRun(server, slices.server);
      summariseRun(echo, slices.echo);
      ratios.push(server.rates.at(-1)! / echo.rates.at(-1)!);
    } finally {
      await echoProcess.stop();
      await agentServer.stop();
    }
  }
  return { server, echo, ratios };
}

export async function run(report: Report): Promise<void> {
  const keys: Keys = { server: curveKeyPair(), client: curveKeyPair() };
  const dir = mkdtempSync(join(tmpdir(), "zeroplane-bench-"));
  const bundle = await bundleServer();
  try {
    // 1 and 2.
    const { server, echo, ratios } = await measureRequests(bundle.entry, keys, dir);
    const load = `${CLIENTS} DEALERs x ${WINDOW} in flight, CURVE+ZAP on, ${SLICES} alternating ${SLICE_SECONDS} s slices per run`;
    report(
      compared(server.rates, echo.rates, {
        name: "server.health_request_rate",
        unit: "requests/s",
        digits: 0,
        ratio: median(ratios),
        better: "higher",
        note: `${load}; ratio: median of per-run ratios; baseline: bare zeromq.js ROUTER echo with CURVE doing the same msgpack decode+encode; target ratio >= 0.95`,
      }),
    );
    report(
      compared(server.p50s, echo.p50s, {
        name: "server.health_loaded_p50",
        unit: "ms",
        better: "lower",
        distribution: {
          p99: round(median(server.p99s), 3),
          baselineP99: round(median(echo.p99s), 3),
        },
        note: `each request's latency under load (${load}); baseline: the echo; target ratio <= 1.05`,
      }),
    );
    report(
      compared(server.cpuUs, echo.cpuUs, {
        name: "server.health_cpu_per_request",
        unit: "µs CPU/request",
        digits: 2,
        better: "lower",
        note: "user+system CPU of the whole process (ZeroMQ I/O thread with CURVE included) per health request under the load above; little moved by other work on the machine",
      }),
    );
    report(
      compared(server.sequentialP50s, echo.sequentialP50s, {
        name: "server.health_round_trip_p50",
        unit: "ms",
        digits: 4,
        better: "lower",
        note: "sequential requests, one DEALER, CURVE+ZAP on; baseline: the echo",
      }),
    );

    // 3: spawn rate of `true` through the separate runner, against bare Node spawning `true`.
    const spawnRates: number[] = [];
    const rawSpawnRates: number[] = [];
    for (let runIndex = 0; runIndex < RUNS; runIndex++) {
      const agentServer = await startAgentServer(bundle.entry, keys, dir, {}, `spawn-${runIndex}`);
      try {
        await spawnMany(agentServer.endpoints.router, keys, 50, 16, [], "true");
        // Alternate which goes first so drift hits both alike.
        if (runIndex % 2 === 0) rawSpawnRates.push(await rawSpawnRate(600));
        spawnRates.push((await spawnMany(agentServer.endpoints.router, keys, 600, 32, [], "true")).rate);
        if (runIndex % 2 === 1) rawSpawnRates.push(await rawSpawnRate(600));
      } finally {
        await agentServer.stop();
      }
    }
    report(
      compared(spawnRates, rawSpawnRates, {
        name: "server.spawn_rate",
        unit: "spawns/s",
        digits: 0,
        better: "higher",
        note: "`true`, 32 spawn requests in flight, CURVE+ZAP on, agents in the separate runner (runner.mode process); baseline: a bare Node process spawning `true` (piped, detached, 32 at a time); target ratio >= 0.85",
      }),
    );

    // 4: RSS with 1,000 sleeping agents.
    const rssValues: number[] = [];
    const idleRss: number[] = [];
    for (let runIndex = 0; runIndex < 3; runIndex++) {
      const agentServer = await startAgentServer(bundle.entry, keys, dir, {}, `rss-${runIndex}`);
      try {
        idleRss.push(rssBytes(agentServer.pid));
        const { ids } = await spawnMany(agentServer.endpoints.router, keys, 1_000, 32, ["600"], "sleep");
        await new Promise((resolve) => setTimeout(resolve, 500));
        rssValues.push(rssBytes(agentServer.pid));
        await request(agentServer.endpoints.router, keys, "batchControl", { agentIds: ids, action: "kill" });
      } finally {
        await agentServer.stop();
      }
    }
    const mib = 1024 * 1024;
    report(
      compared(rssValues, idleRss, {
        name: "server.rss_1000_sleeping_agents",
        unit: "MiB",
        scale: 1 / mib,
        digits: 1,
        better: "lower",
        note: "server process RSS with 1,000 `sleep 600` agents (in the separate runner); baseline: the same server idle; target <= 200 MiB",
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    bundle.remove();
  }
}
