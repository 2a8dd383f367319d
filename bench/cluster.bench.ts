/**
 * Cluster scaling through the client SDK: spawn and health throughput against three server processes
 * versus one, in the same run, with the scale ratio. The load comes from CLIENT_PROCESSES client
 * processes (bench/cluster-client.ts) started together, so one client's event loop does not bound
 * the figure. Also measured in the same run, as ceilings:
 * raw fork/exec of the same agent from this process (what a spawn cannot beat on this machine), and
 * a raw ZeroMQ DEALER/ROUTER echo (what a request cannot beat through this client's event loop).
 *
 * What bounds the ratio: every process shares the machine's cores. On a 2-core machine three
 * servers plus the client process compete for two cores, so the ceiling is about min(3, cores) for
 * CPU-bound work, less the client's own share, and lower still when other work loads the machine.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { Dealer, Router } from "zeromq";
import { startServerProcess, testServerConfig, type ServerProcess } from "../test/support/server-process.js";
import { throughput as clientThroughput } from "./cluster-client.js";
import { median, round, type Report } from "./report.js";
import { repoRoot, startHelper } from "./servers.js";

const ROUNDS = 3;
const DURATION_MS = 3_000;
const HEALTH_CONCURRENCY = 64;
const SPAWN_CONCURRENCY = 16;
const AGENT = { command: "true", args: [] as string[] };
/** Load-generating client processes, each connected to every server of the configuration measured. */
const CLIENT_PROCESSES = 3;

/** Runs `op` with `concurrency` workers for DURATION_MS; returns completed operations per second. */
function throughput(concurrency: number, op: () => Promise<unknown>): Promise<number> {
  return clientThroughput(concurrency, DURATION_MS, op);
}

const stateRoot = mkdtempSync(join(tmpdir(), "zeroplane-cluster-bench-"));

async function startServers(
  group: string,
  count: number,
  started: ServerProcess[],
): Promise<ServerProcess[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      startServerProcess({
        config: testServerConfig({
          server: { id: `bench-${group}-${i + 1}`, maxAgents: 10_000 },
          security: { curve: false },
          runner: { retentionMs: 1_000, stateDir: join(stateRoot, `${group}-${i}`) },
          log: { level: "info" },
        }),
        readyTimeoutMs: 60_000,
      }).then((server) => {
        started.push(server);
        return server;
      }),
    ),
  );
  return servers;
}

/** CLIENT_PROCESSES client processes against `servers` at once; their rates summed. */
async function measureCluster(servers: readonly ServerProcess[]): Promise<{ health: number; spawn: number }> {
  // Time for every client process to start and connect before all begin together.
  const startAt = Date.now() + 6_000;
  const clients = await Promise.all(
    Array.from({ length: CLIENT_PROCESSES }, () =>
      startHelper(
        join(repoRoot, "bench", "cluster-client.ts"),
        [
          String(startAt),
          String(DURATION_MS),
          servers.map((s) => s.endpoints.router).join(","),
          servers.map((s) => s.endpoints.publish).join(","),
        ],
        /^\{.*\}$/m,
      ),
    ),
  );
  const results = clients.map((client) => JSON.parse(client.line[0]) as { health: number; spawn: number });
  await Promise.all(clients.map((client) => client.stop()));
  return {
    health: results.reduce((total, r) => total + r.health, 0),
    spawn: results.reduce((total, r) => total + r.spawn, 0),
  };
}

/** fork/exec of the agent straight from this process: the machine's spawn ceiling. */
async function rawSpawnRate(): Promise<number> {
  return throughput(
    SPAWN_CONCURRENCY,
    () =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(AGENT.command, AGENT.args, { stdio: "ignore" });
        child.once("error", reject);
        child.once("exit", () => resolve());
      }),
  );
}

/** DEALER/ROUTER echo of a health-sized frame on loopback, same concurrency: the transport ceiling. */
async function rawEchoRate(): Promise<number> {
  const router = new Router({ linger: 0 });
  await router.bind("tcp://127.0.0.1:*");
  const echo = (async () => {
    for await (const [identity, frame] of router) await router.send([identity!, frame!]);
  })().catch(() => undefined);
  const dealer = new Dealer({ linger: 0 });
  dealer.connect(router.lastEndpoint!);
  const waiting = new Map<number, () => void>();
  const receive = (async () => {
    for await (const [frame] of dealer) waiting.get(frame!.readUInt32BE(0))?.();
  })().catch(() => undefined);
  let nextId = 0;
  const payload = Buffer.alloc(200);
  let sending = Promise.resolve();
  const rate = await throughput(HEALTH_CONCURRENCY, async () => {
    const id = nextId++;
    const frame = Buffer.from(payload);
    frame.writeUInt32BE(id >>> 0, 0);
    const replied = new Promise<void>((resolve) => waiting.set(id >>> 0, resolve));
    sending = sending.then(() => dealer.send(frame));
    await replied;
    waiting.delete(id >>> 0);
  });
  dealer.close();
  router.close();
  await Promise.all([echo, receive]);
  return rate;
}

export async function run(report: Report): Promise<void> {
  const cores = availableParallelism();
  const one: Array<{ health: number; spawn: number }> = [];
  const three: Array<{ health: number; spawn: number }> = [];
  const rawSpawn: number[] = [];
  const rawEcho: number[] = [];
  const started: ServerProcess[] = [];
  try {
    const single = await startServers("one", 1, started);
    const trio = await startServers("three", 3, started);
    // Alternate the configurations so drifting machine load hits both alike.
    for (let i = 0; i < ROUNDS; i++) {
      one.push(await measureCluster(single));
      three.push(await measureCluster(trio));
      rawSpawn.push(await rawSpawnRate());
      rawEcho.push(await rawEchoRate());
    }
  } finally {
    await Promise.all(started.map((s) => s.dispose()));
    rmSync(stateRoot, { recursive: true, force: true });
  }
  const bound = `${cores} cores shared by the clients and every server (and anything else running): the scale ceiling is about min(3, ${cores})`;
  const health1 = median(one.map((r) => r.health));
  const health3 = median(three.map((r) => r.health));
  const spawn1 = median(one.map((r) => r.spawn));
  const spawn3 = median(three.map((r) => r.spawn));
  report({
    name: "cluster.health.1-server",
    value: round(health1, 0),
    unit: "req/s",
    baseline: round(median(rawEcho), 0),
    ratio: round(health1 / median(rawEcho)),
    note: `${CLIENT_PROCESSES} client processes x ${HEALTH_CONCURRENCY} in flight, CURVE off; baseline: raw DEALER/ROUTER echo with both ends in one process, ${HEALTH_CONCURRENCY} in flight`,
  });
  report({
    name: "cluster.health.3-servers",
    value: round(health3, 0),
    unit: "req/s",
    baseline: round(health1, 0),
    ratio: round(health3 / health1),
    note: `scale ratio vs one server, driven by ${CLIENT_PROCESSES} client processes (each connected to every server) so no one client's event loop bounds it; ${bound}, and the client processes take their share of the same cores`,
  });
  report({
    name: "cluster.spawn.1-server",
    value: round(spawn1, 1),
    unit: "spawns/s",
    baseline: round(median(rawSpawn), 1),
    ratio: round(spawn1 / median(rawSpawn)),
    note: `${CLIENT_PROCESSES} client processes x ${SPAWN_CONCURRENCY} spawns in flight; baseline: raw fork/exec of the same agent from the bench process`,
  });
  report({
    name: "cluster.spawn.3-servers",
    value: round(spawn3, 1),
    unit: "spawns/s",
    baseline: round(spawn1, 1),
    ratio: round(spawn3 / spawn1),
    note: `scale ratio vs one server; ${bound}; each spawn is a fork/exec plus agent bookkeeping, so it is CPU-bound`,
  });
}
