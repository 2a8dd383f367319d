/**
 * Shared wiring for the cluster registry tests and benchmark: agent server processes on one NATS,
 * each addressed through its own NATS command subject (`agent.commands.<serverId>.<method>`).
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, encode } from "@msgpack/msgpack";
import type { NatsConnection } from "nats";
import type { ZeroplaneConfigInput } from "../../../runtime/config/index.js";
import type { AgentInfo, Method, MethodResults, ProtocolErrorBody } from "../../../runtime/protocol/index.js";
import { startServerProcess, testServerConfig, type ServerProcess } from "../../support/server-process.js";
import { waitFor } from "../../support/wait.js";
import { readStream } from "./helpers.js";

/** Heartbeat period in the tests: a SIGKILLed server's agents read lost within 3 of these. */
export const TEST_HEARTBEAT_MS = 300;

/** Starts an agent server process with NATS, the registry and command intake on. */
export function startClusterServer(
  serverId: string,
  urls: readonly string[],
  options: {
    readonly stateDir?: string;
    readonly registry?: boolean;
    readonly nodeArgs?: readonly string[];
  } = {},
): Promise<ServerProcess> {
  const config: ZeroplaneConfigInput = testServerConfig({
    server: { id: serverId, maxAgents: 2000 },
    runner: { stopGraceMs: 1000, ...(options.stateDir ? { stateDir: options.stateDir } : {}) },
    nats: {
      enabled: true,
      required: true,
      commands: true,
      urls: [...urls],
      reconnectWaitMs: 250,
      registry: options.registry ?? true,
      heartbeatIntervalMs: TEST_HEARTBEAT_MS,
    },
  });
  return startServerProcess({ config, ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}) });
}

/** A failed command, with the server's error body. */
export class CommandError extends Error {
  constructor(readonly body: ProtocolErrorBody) {
    super(`${body.code}: ${body.message}`);
  }
}

let requestId = 0;

/** Sends one request to one server over NATS; returns its result or throws CommandError. */
export async function command<M extends Method>(
  nc: NatsConnection,
  serverId: string,
  method: M,
  params: unknown,
  timeoutMs = 20_000,
): Promise<MethodResults[M]> {
  const body = encode({ v: 1, id: `t${++requestId}`, params });
  const reply = decode(
    (await nc.request(`agent.commands.${serverId}.${method}`, body, { timeout: timeoutMs })).data,
  ) as { ok: boolean; result?: MethodResults[M]; error?: ProtocolErrorBody };
  if (!reply.ok) throw new CommandError(reply.error!);
  return reply.result!;
}

export interface CrashExperimentOptions {
  readonly urls: readonly string[];
  readonly nc: NatsConnection;
  /** Keyed spawns in the run. */
  readonly spawns: number;
  /** srv-a is SIGKILLed once this share of the spawns has been answered. @default 0.3 */
  readonly killAt?: number;
  /** Spawns in flight at once. @default 16 */
  readonly concurrency?: number;
  /** Run with the cluster registry (true) or with per-server idempotency only (false). @default true */
  readonly registry?: boolean;
  readonly nodeArgs?: readonly string[];
}

/** Milliseconds from `since` until srv-b reads the agent as lost. */
async function timeUntilLost(nc: NatsConnection, agentId: string, since: number): Promise<number> {
  await waitFor(
    "srv-a's agent to read lost on srv-b",
    async () => (await command(nc, "srv-b", "get", { agentId })).status === "lost",
    30_000,
    { intervalMs: 20, retryErrors: true },
  );
  return Date.now() - since;
}

export interface CrashOutcome {
  readonly keys: number;
  /** Keys whose agent process started more than once (from the agents' own start log). */
  readonly keysStartedTwice: number;
  /** Keys with more than one agent id in the events stream's `spawned` events. */
  readonly keysSpawnedTwice: number;
  /** Keys whose answered agent reads NOT_FOUND on either server afterwards. */
  readonly unaccounted: number;
  /** Agents with this run's label in the cluster list (one per key when nothing started twice). */
  readonly listed: number;
  /** Spawn attempts answered with an error and retried. */
  readonly retries: number;
  /** From the SIGKILL until srv-b reads one of srv-a's running agents as lost. */
  readonly lostAfterMs: number;
  readonly elapsedMs: number;
}

/**
 * The SIGKILL experiment of issue 17: keyed spawns go to srv-a first and are retried on srv-b, srv-a,
 * ... until answered; srv-a is SIGKILLed once `killAt` of them are answered and restarted (same state
 * directory and spool) half a second later. Each agent appends its key to a log when it starts.
 */
export async function crashExperiment(options: CrashExperimentOptions): Promise<CrashOutcome> {
  const { nc, urls, spawns } = options;
  const dir = mkdtempSync(join(tmpdir(), "zeroplane-crash-"));
  const startLog = join(dir, "starts.log");
  // Agents may run as another user (runner.agentUid when the server is root): let them append.
  chmodSync(dir, 0o755);
  writeFileSync(startLog, "", { mode: 0o666 });
  chmodSync(startLog, 0o666);
  const stateA = join(dir, "srv-a");
  const run = `crash-${Date.now()}`;
  const serverOptions = {
    registry: options.registry ?? true,
    ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}),
  };
  let a = await startClusterServer("srv-a", urls, { ...serverOptions, stateDir: stateA });
  const b = await startClusterServer("srv-b", urls, serverOptions);
  const started = Date.now();
  const replies = new Map<string, AgentInfo>();
  let retries = 0;
  let killedAt = 0;
  let restart: Promise<void> | null = null;
  let lostWatch: Promise<number> | null = null;
  try {
    const keys = Array.from({ length: spawns }, (_, i) => `${run}-${i}`);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const key = keys[next++]!;
        for (let attempt = 0; ; attempt++) {
          const serverId = attempt % 2 === 0 ? "srv-a" : "srv-b";
          try {
            const agent = await command(
              nc,
              serverId,
              "spawn",
              {
                command: "/bin/sh",
                args: ["-c", `echo "$0" >> ${startLog}; exec sleep 600`, key],
                labels: { run },
                idempotencyKey: key,
              },
              10_000,
            );
            replies.set(key, agent);
            break;
          } catch {
            retries++;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
        if (!killedAt && replies.size >= spawns * (options.killAt ?? 0.3)) {
          killedAt = Date.now();
          const victim = [...replies.values()].find((agent) => agent.serverId === "srv-a");
          a.kill("SIGKILL");
          if (victim && serverOptions.registry) lostWatch = timeUntilLost(nc, victim.id, killedAt);
          restart = a.exited.then(async () => {
            await new Promise((resolve) => setTimeout(resolve, 500));
            a = await startClusterServer("srv-a", urls, { ...serverOptions, stateDir: stateA });
          });
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
    const elapsedMs = Date.now() - started;
    await restart;

    const lostAfterMs = (await lostWatch) ?? -1;

    const starts = new Map<string, number>();
    for (const line of readFileSync(startLog, "utf8").split("\n").filter(Boolean)) {
      starts.set(line, (starts.get(line) ?? 0) + 1);
    }
    const spawned = new Map<string, Set<string>>();
    await waitFor(
      "both spools to drain into the stream",
      async () => {
        const stored = await readStream(nc, "AGENT_EVENTS");
        spawned.clear();
        for (const { event } of stored) {
          if (event.type !== "spawned" || event.agent.labels.run !== run) continue;
          const key = event.agent.args[2]!;
          spawned.set(key, (spawned.get(key) ?? new Set()).add(event.agentId));
        }
        return [...starts.keys()].every((key) => spawned.has(key));
      },
      60_000,
      { intervalMs: 200, retryErrors: true },
    );

    let unaccounted = 0;
    for (const agent of replies.values()) {
      for (const serverId of ["srv-a", "srv-b"]) {
        const found = await command(nc, serverId, "get", { agentId: agent.id }).catch(
          (error: unknown) => error,
        );
        if (found instanceof CommandError && found.body.code === "NOT_FOUND") unaccounted++;
      }
    }
    const listed = serverOptions.registry
      ? (await command(nc, "srv-b", "list", { labels: { run }, limit: 1 })).total
      : -1;
    return {
      keys: spawns,
      keysStartedTwice: [...starts.values()].filter((count) => count > 1).length,
      keysSpawnedTwice: [...spawned.values()].filter((ids) => ids.size > 1).length,
      unaccounted,
      listed,
      retries,
      lostAfterMs,
      elapsedMs,
    };
  } finally {
    await Promise.all([a.dispose(), b.dispose()]);
    rmSync(dir, { recursive: true, force: true });
  }
}
