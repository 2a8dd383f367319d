/**
 * A real process runner and dispatcher behind a real ROUTER and RequestSocket, reached by a real
 * DEALER, with spawns held at a gate the test opens. Tests then assert what happened before what
 * instead of sleeping or bounding elapsed time, so a slow machine cannot break them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Router } from "zeromq";
import { ServerMetrics } from "../../../runtime/observability/metrics.js";
import type { AgentInfo } from "../../../runtime/protocol/index.js";
import { createAgentRunner } from "../../../runtime/runner/index.js";
import type { AgentRunner } from "../../../runtime/runner/api.js";
import { createRequestHandler, type ServerRequestHandler } from "../../../runtime/server/handler.js";
import { RequestSocket } from "../../../runtime/server/request-socket.js";
import { WireClient } from "./wire-client.js";

/** Holds spawns until opened, and says when one has arrived. */
export class SpawnGate {
  private release: () => void = () => undefined;
  private readonly opened = new Promise<void>((resolve) => (this.release = resolve));
  private arrive: () => void = () => undefined;
  /** Resolves when the first spawn reached the runner. */
  readonly arrived = new Promise<void>((resolve) => (this.arrive = resolve));
  waiting = 0;

  /** A runner whose spawn waits here first; every other method is the real runner's. */
  wrap(runner: AgentRunner): AgentRunner {
    const gated = async (params: Parameters<AgentRunner["spawn"]>[0]): Promise<AgentInfo> => {
      this.waiting++;
      this.arrive();
      await this.opened;
      this.waiting--;
      return runner.spawn(params);
    };
    return new Proxy(runner, {
      get(target, property) {
        if (property === "spawn") return gated;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  open(): void {
    this.release();
  }
}

export interface GatedRig {
  readonly client: WireClient;
  readonly runner: AgentRunner;
  readonly handler: ServerRequestHandler;
  readonly metrics: ServerMetrics;
  readonly router: Router;
  readonly requests: RequestSocket;
}

/** A real runner and dispatcher behind a real ROUTER, with spawns held by `gate`; cleanups stop it all. */
export async function startGatedRig(
  cleanups: Array<() => unknown>,
  options: {
    gate: SpawnGate;
    requestTimeoutMs?: number;
    idempotencyWindowMs?: number;
    now?: () => number;
  },
): Promise<GatedRig> {
  const stateDir = mkdtempSync(join(tmpdir(), "zeroplane-state-"));
  cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
  const runner: AgentRunner = await createAgentRunner({
    serverId: "concurrency",
    maxAgents: 10,
    outputCapBytes: 1024,
    retentionMs: 60_000,
    stopGraceMs: 1_000,
    stateDir,
  });
  cleanups.push(async () => {
    options.gate.open();
    await runner.stopAll(500);
    await runner.close();
  });
  const metrics = new ServerMetrics();
  const handler = createRequestHandler({
    runner: options.gate.wrap(runner),
    metrics,
    idempotencyWindowMs: options.idempotencyWindowMs ?? 60_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 60_000,
    ...(options.now ? { now: options.now } : {}),
    state: {
      serverId: "concurrency",
      maxAgents: 10,
      startedAt: Date.now(),
      draining: () => false,
      ready: () => true,
      sink: () => null,
    },
  });
  const router = new Router({ linger: 0 });
  cleanups.push(() => router.close());
  await router.bind("tcp://127.0.0.1:*");
  const requests = new RequestSocket(
    router,
    handler.invoke,
    metrics,
    pino({ level: "silent" }),
    1024 * 1024,
    1000,
  );
  requests.start();
  // The socket in service, which is a fresh one if a test recycled connections.
  cleanups.push(() => requests.closeSocket());
  const client = new WireClient(router.lastEndpoint!);
  cleanups.push(() => client.close());
  return { client, runner, handler, metrics, router, requests };
}
