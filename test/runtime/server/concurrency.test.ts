import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Router } from "zeromq";
import { ServerMetrics } from "../../../runtime/observability/metrics.js";
import type { RequestHandler } from "../../../runtime/protocol/index.js";
import { createAgentRunner } from "../../../runtime/runner/index.js";
import type { AgentRunner } from "../../../runtime/runner/api.js";
import { createRequestHandler } from "../../../runtime/server/handler.js";
import { RequestSocket } from "../../../runtime/server/request-socket.js";
import { startTestServer, type TestServer } from "./harness.js";
import { WireClient } from "./wire-client.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("concurrent requests", () => {
  it("answers a health check while a slow spawn from the same client is still in flight", async () => {
    // The real runner spawns in about a millisecond, so the spawn is slowed down here on purpose:
    // the property under test is that the socket loop never waits for one request before the next.
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
      await runner.stopAll(500);
      await runner.close();
    });
    const metrics = new ServerMetrics();
    const handler = createRequestHandler({
      runner,
      metrics,
      idempotencyWindowMs: 60_000,
      state: {
        serverId: "concurrency",
        maxAgents: 10,
        startedAt: Date.now(),
        draining: () => false,
        ready: () => true,
        sink: () => null,
      },
    });
    const slowSpawnMs = 1_500;
    const withSlowSpawn = (async (method: string, params: unknown) => {
      if (method === "spawn") await new Promise((resolve) => setTimeout(resolve, slowSpawnMs));
      return handler.handle(method as never, params);
    }) as RequestHandler;
    const router = new Router({ linger: 0 });
    cleanups.push(() => router.close());
    await router.bind("tcp://127.0.0.1:*");
    new RequestSocket(router, withSlowSpawn, metrics, pino({ level: "silent" }), 1024 * 1024, 1000).start();
    const client = new WireClient(router.lastEndpoint!);
    cleanups.push(() => client.close());

    const order: string[] = [];
    const spawned = client.request("spawn", { command: "sleep", args: ["30"] }).then((agent) => {
      order.push("spawn");
      return agent;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const sentAt = Date.now();
    const health = await client.request("health", {});
    order.push("health");
    expect(health.healthy).toBe(true);
    expect(Date.now() - sentAt).toBeLessThan(slowSpawnMs);
    expect((await spawned).status).toBe("running");
    expect(order).toEqual(["health", "spawn"]);
  });

  it("serves many clients with many requests in flight each", async () => {
    const server: TestServer = await startTestServer();
    cleanups.push(() => server.stop());
    const clients = Array.from({ length: 8 }, () => server.client());
    const replies = await Promise.all(
      clients.flatMap((client) => Array.from({ length: 200 }, () => client.request("health", {}))),
    );
    expect(replies).toHaveLength(1600);
    expect(replies.every((reply) => reply.healthy)).toBe(true);
    expect((await clients[0]!.request("stats", {})).requests.health).toBe(1600);
  });
});
