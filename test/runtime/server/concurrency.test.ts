/**
 * The request loop and the dispatcher under slow operations: a real runner, a real ROUTER and a real
 * DEALER, with spawns held at a gate the test opens. The gate replaces sleeps and elapsed-time
 * bounds: every assertion is about what happened before what, so a slow machine cannot break it.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { AgentInfo } from "../../../runtime/protocol/index.js";
import { SpawnGate, startGatedRig } from "./gated-rig.js";
import { metricValue, startTestServer, type TestServer } from "./harness.js";
import { waitFor } from "../../support/wait.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("concurrent requests", () => {
  it("answers a health check while a spawn from the same client is still in flight", async () => {
    const gate = new SpawnGate();
    const { client } = await startGatedRig(cleanups, { gate });
    const order: string[] = [];
    const spawned = client.request("spawn", { command: "sleep", args: ["30"] }).then((agent) => {
      order.push("spawn");
      return agent;
    });
    await gate.arrived;

    const health = await client.request("health", {});
    order.push("health");
    expect(health.healthy).toBe(true);
    // The spawn is still held at the gate: the loop answered health without waiting for it.
    expect(gate.waiting).toBe(1);
    gate.open();
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

describe("the request deadline (server.requestTimeoutMs)", () => {
  it("answers TIMEOUT (retryable) to a request that outlives it, counts it, and lets the operation finish", async () => {
    const gate = new SpawnGate();
    // The spawn waits at the gate until the test opens it, so it outlives any deadline.
    const { client, runner, handler, metrics } = await startGatedRig(cleanups, {
      gate,
      requestTimeoutMs: 300,
    });
    const spawn = { command: "sleep", args: ["30"], idempotencyKey: "slow-1" };

    const reply = await client.call("spawn", spawn);
    expect(reply.ok).toBe(false);
    expect(reply.error).toMatchObject({ code: "TIMEOUT", retryable: true });
    expect(reply.error!.message).toContain("server.requestTimeoutMs");
    const text = await metrics.registry.metrics();
    expect(metricValue(text, "zeroplane_requests_total", { method: "spawn", result: "TIMEOUT" })).toBe(1);
    expect(metricValue(text, "zeroplane_requests_total", { method: "spawn", result: "ok" })).toBe(0);
    expect(gate.waiting).toBe(1);
    // The operation is still running, so a drain would still wait for it.
    expect(handler.inFlight).toBe(1);

    gate.open();
    await handler.idle();
    // A retry with the same idempotency key gets the agent the timed-out request started (a retry
    // may itself time out on a slow machine; a client retries TIMEOUT, and so does this loop).
    const agent = await waitFor(
      "the retried spawn to return the agent",
      async () => {
        const retry = await client.call("spawn", spawn);
        if (retry.ok) return retry.result as AgentInfo;
        expect(retry.error!.code).toBe("TIMEOUT");
        return null;
      },
      30_000,
    );
    expect(agent.status).toBe("running");
    expect(runner.list({ limit: 100 }).agents.map((a) => a.id)).toEqual([agent.id]);
    expect(metrics.totals.idempotentReplays).toBeGreaterThanOrEqual(1);
    expect(metrics.totals.spawns).toBe(1);
  });
});

describe("the idempotency window", () => {
  it("replays a key inside the window and forgets it once the window has passed", async () => {
    const gate = new SpawnGate();
    gate.open();
    let now = 1_000_000;
    const { client } = await startGatedRig(cleanups, { gate, idempotencyWindowMs: 60_000, now: () => now });
    const spawn = { command: "sleep", args: ["30"], idempotencyKey: "job-1" };
    const first = await client.request("spawn", spawn);
    now += 59_999;
    expect((await client.request("spawn", spawn)).id).toBe(first.id);
    now += 1;
    const later = await client.request("spawn", spawn);
    expect(later.id).not.toBe(first.id);
    expect(later.status).toBe("running");
  });
});
