import { encode } from "@msgpack/msgpack";
import { afterEach, describe, expect, it } from "vitest";
import { PROTOCOL_VERSION, type AgentInfo } from "../../../runtime/protocol/index.js";
import { VERSION } from "../../../runtime/version.js";
import { metricValue, startTestServer, type TestServer } from "./harness.js";
import { WireError, type WireClient } from "./wire-client.js";
import { waitFor } from "../../support/wait.js";

let current: TestServer | null = null;
afterEach(async () => {
  await current?.stop();
  current = null;
});

async function setup(
  overrides: Parameters<typeof startTestServer>[0] = {},
): Promise<{ t: TestServer; c: WireClient }> {
  current = await startTestServer(overrides);
  return { t: current, c: current.client() };
}

async function errorOf(promise: Promise<unknown>): Promise<WireError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WireError) return error;
    throw error;
  }
  throw new Error("expected an error reply");
}

async function waitForStatus(c: WireClient, agentId: string, statuses: string[]): Promise<AgentInfo> {
  return waitFor(
    `agent ${agentId} to reach ${statuses.join("/")}`,
    async () => {
      const agent = await c.request("get", { agentId });
      return statuses.includes(agent.status) ? agent : null;
    },
    20_000,
  );
}

describe("agent server methods", () => {
  it("health reports the server, version, protocol and load", async () => {
    const { t, c } = await setup({ server: { maxAgents: 4 } });
    const health = await c.request("health", {});
    expect(health).toMatchObject({
      healthy: true,
      ready: true,
      draining: false,
      serverId: t.config.server.id,
      version: VERSION,
      protocolVersion: PROTOCOL_VERSION,
      activeAgents: 0,
      maxAgents: 4,
      load: 0,
    });
    expect(health.uptimeMs).toBeGreaterThanOrEqual(0);
  });

  it("spawn starts an agent that get, list and output then describe", async () => {
    const { c, t } = await setup();
    const agent = await c.request("spawn", {
      command: "sh",
      args: ["-c", "echo hello; echo oops >&2"],
      name: "greeter",
      labels: { team: "a" },
    });
    expect(agent).toMatchObject({
      status: "running",
      name: "greeter",
      command: "sh",
      serverId: t.config.server.id,
    });
    expect(agent.pid).toBeGreaterThan(0);
    const done = await waitForStatus(c, agent.id, ["exited"]);
    expect(done.exitCode).toBe(0);

    const stdout = await c.request("output", { agentId: agent.id });
    expect(Buffer.from(stdout.data).toString()).toBe("hello\n");
    expect(stdout).toMatchObject({ offset: 0, nextOffset: 6, dropped: 0, eof: true });
    const stderr = await c.request("output", { agentId: agent.id, stream: "stderr" });
    expect(Buffer.from(stderr.data).toString()).toBe("oops\n");
    const tail = await c.request("output", { agentId: agent.id, tail: 3 });
    expect(Buffer.from(tail.data).toString()).toBe("lo\n");
    const fromOffset = await c.request("output", { agentId: agent.id, offset: 2, limit: 2 });
    expect(Buffer.from(fromOffset.data).toString()).toBe("ll");

    const other = await c.request("spawn", { command: "sleep", args: ["30"], labels: { team: "b" } });
    const byLabel = await c.request("list", { labels: { team: "a" } });
    expect(byLabel.agents.map((a) => a.id)).toEqual([agent.id]);
    const running = await c.request("list", { status: ["running"] });
    expect(running.agents.map((a) => a.id)).toEqual([other.id]);
    const firstPage = await c.request("list", { limit: 1 });
    expect(firstPage.total).toBe(2);
    expect(firstPage.nextCursor).not.toBeNull();
    const secondPage = await c.request("list", { limit: 1, cursor: firstPage.nextCursor! });
    expect([...firstPage.agents, ...secondPage.agents].map((a) => a.id).sort()).toEqual(
      [agent.id, other.id].sort(),
    );
  });

  it("control pauses, resumes, signals, writes to stdin and stops agents", async () => {
    const { c } = await setup();
    const sleeper = await c.request("spawn", { command: "sleep", args: ["30"] });
    expect((await c.request("control", { agentId: sleeper.id, action: "pause" })).status).toBe("paused");
    expect((await c.request("control", { agentId: sleeper.id, action: "resume" })).status).toBe("running");
    const resumeAgain = await errorOf(c.request("control", { agentId: sleeper.id, action: "resume" }));
    expect(resumeAgain.body).toMatchObject({ code: "INVALID_STATE", retryable: false });
    await c.request("control", { agentId: sleeper.id, action: "signal", signal: "SIGUSR1" });
    expect((await waitForStatus(c, sleeper.id, ["killed"])).signal).toBe("SIGUSR1");

    const cat = await c.request("spawn", { command: "cat" });
    await c.request("control", { agentId: cat.id, action: "write", data: "ping\n", end: true });
    await waitForStatus(c, cat.id, ["exited"]);
    expect(Buffer.from((await c.request("output", { agentId: cat.id })).data).toString()).toBe("ping\n");

    const stoppable = await c.request("spawn", { command: "sleep", args: ["30"] });
    await c.request("control", { agentId: stoppable.id, action: "stop", graceMs: 5_000 });
    expect((await waitForStatus(c, stoppable.id, ["killed", "exited"])).endedAt).not.toBeNull();

    const killable = await c.request("spawn", { command: "sleep", args: ["30"] });
    await c.request("control", { agentId: killable.id, action: "kill" });
    expect((await waitForStatus(c, killable.id, ["killed"])).signal).toBe("SIGKILL");
  });

  it("control reports NOT_FOUND and requires the arguments an action needs", async () => {
    const { c } = await setup();
    const missing = await errorOf(c.request("control", { agentId: "no-such-agent", action: "kill" }));
    expect(missing.body).toMatchObject({ code: "NOT_FOUND", retryable: false });
    expect((await errorOf(c.request("get", { agentId: "no-such-agent" }))).body.code).toBe("NOT_FOUND");
    const agent = await c.request("spawn", { command: "sleep", args: ["30"] });
    const noSignal = await errorOf(c.request("control", { agentId: agent.id, action: "signal" }));
    expect(noSignal.body.code).toBe("BAD_REQUEST");
    expect(noSignal.body.message).toContain("params.signal");
    const noData = await errorOf(c.request("control", { agentId: agent.id, action: "write" }));
    expect(noData.body.message).toContain("params.data");
  });

  it("batchControl returns a result per agent, continuing past failures or stopping at the first", async () => {
    const { c } = await setup();
    const a = await c.request("spawn", { command: "sleep", args: ["30"] });
    const b = await c.request("spawn", { command: "sleep", args: ["30"] });
    const continued = await c.request("batchControl", { agentIds: [a.id, "ghost", b.id], action: "pause" });
    expect(continued.results.map((r) => [r.agentId, r.ok])).toEqual([
      [a.id, true],
      ["ghost", false],
      [b.id, true],
    ]);
    expect(continued.results[0]!.agent!.status).toBe("paused");
    expect(continued.results[1]!.error).toMatchObject({ code: "NOT_FOUND" });

    const failFast = await c.request("batchControl", {
      agentIds: [a.id, "ghost", b.id],
      action: "resume",
      mode: "fail-fast",
    });
    expect(failFast.results).toHaveLength(3);
    expect(failFast.results[0]).toMatchObject({ agentId: a.id, ok: true });
    expect(failFast.results[1]).toMatchObject({ agentId: "ghost", ok: false, error: { code: "NOT_FOUND" } });
    expect(failFast.results[2]).toMatchObject({ agentId: b.id, ok: false, skipped: true });
    expect((await c.request("get", { agentId: b.id })).status).toBe("paused");
  });

  it("validation errors are BAD_REQUEST and name the field", async () => {
    const { c } = await setup();
    const wrongType = await c.call("spawn", { command: 42 });
    expect(wrongType.error).toMatchObject({ code: "BAD_REQUEST", retryable: false });
    expect(wrongType.error!.message).toContain("params.command");
    const extra = await c.call("get", { agentId: "x", colour: "blue" });
    expect(extra.error!.code).toBe("BAD_REQUEST");
    expect(extra.error!.message).toContain("colour");
    const badLabel = await c.call("spawn", { command: "true", labels: { "bad key!": "v" } });
    expect(badLabel.error!.message).toContain("params.labels");
    const unknown = await c.call("explode", {});
    expect(unknown.error).toMatchObject({ code: "UNKNOWN_METHOD", retryable: false });
    expect(unknown.error!.message).toContain("explode");
    const version = await c.call("health", {}, 10_000, { v: 99 });
    expect(version).toMatchObject({
      id: expect.any(String),
      ok: false,
      error: { code: "UNSUPPORTED_VERSION" },
    });
  });

  it("answers malformed frames with an error reply and keeps serving", async () => {
    const { c } = await setup();
    await c.sendRaw([Buffer.from("not msgpack at all \xc1")]);
    await c.sendRaw([encode([1, 2, 3])]);
    await c.sendRaw([encode({ v: 1, method: "health" })]);
    await c.sendRaw([encode({ v: 1, id: "a", method: "health" }), Buffer.from("extra")]);
    await waitFor("four error replies", () => c.unmatched.length >= 4, 10_000);
    expect(c.unmatched.map((r) => r.error!.code)).toEqual([
      "BAD_REQUEST",
      "BAD_REQUEST",
      "BAD_REQUEST",
      "BAD_REQUEST",
    ]);
    expect(c.unmatched.every((r) => r.id === "")).toBe(true);
    expect((await c.request("health", {})).healthy).toBe(true);
  });

  it("refuses an oversized request with MESSAGE_TOO_LARGE and keeps serving", async () => {
    const { c, t } = await setup({ server: { maxMessageBytes: 1024 } });
    const reply = await c.call("spawn", { command: "x".repeat(1500) });
    expect(reply.error).toMatchObject({ code: "MESSAGE_TOO_LARGE", retryable: false });
    expect(reply.error!.message).toContain("1024");
    expect((await c.request("health", {})).healthy).toBe(true);
    // Far beyond the limit libzmq drops the connection unread; the server keeps serving others.
    await c.sendRaw([Buffer.alloc(64 * 1024)]);
    const other = t.client();
    expect((await other.request("health", {})).healthy).toBe(true);
  });

  it("idempotent spawns return the same agent, also for concurrent duplicates, and count replays", async () => {
    // The window is the default 10 minutes; its expiry is tested with an injected clock
    // (concurrency.test.ts and idempotency.test.ts), not by sleeping past it here.
    const { c } = await setup();
    const first = await c.request("spawn", { command: "sleep", args: ["30"], idempotencyKey: "job-1" });
    const again = await c.request("spawn", { command: "sleep", args: ["30"], idempotencyKey: "job-1" });
    expect(again.id).toBe(first.id);

    const burst = await Promise.all(
      Array.from({ length: 10 }, () =>
        c.request("spawn", { command: "sleep", args: ["30"], idempotencyKey: "job-2" }),
      ),
    );
    expect(new Set(burst.map((agent) => agent.id)).size).toBe(1);
    expect(burst[0]!.id).not.toBe(first.id);

    const stats = await c.request("stats", {});
    expect(stats.spawns).toBe(2);
    expect(stats.idempotentReplays).toBe(10);
    expect(stats.agentsByStatus.running).toBe(2);
  });

  it("refuses spawns beyond max_agents with a retryable CAPACITY error", async () => {
    const { c, t } = await setup({ server: { maxAgents: 2 } });
    const a = await c.request("spawn", { command: "sleep", args: ["30"] });
    await c.request("spawn", { command: "sleep", args: ["30"] });
    const refused = await errorOf(c.request("spawn", { command: "sleep", args: ["30"] }));
    expect(refused.body).toMatchObject({ code: "CAPACITY", retryable: true });
    expect((await c.request("health", {})).load).toBe(1);
    await c.request("control", { agentId: a.id, action: "kill" });
    await waitForStatus(c, a.id, ["killed"]);
    expect((await c.request("spawn", { command: "sleep", args: ["30"] })).status).toBe("running");
    const stats = await c.request("stats", {});
    expect(stats.spawnFailures).toBe(1);
    expect(stats.errors.CAPACITY).toBe(1);
    expect(metricValue(await t.metricsText(), "zeroplane_spawn_failures_total")).toBe(1);
  });

  it("ends an agent that outlives its timeout with status timed_out", async () => {
    const { c } = await setup();
    const agent = await c.request("spawn", { command: "sleep", args: ["30"], timeoutMs: 300 });
    expect(agent.timeoutMs).toBe(300);
    const ended = await waitForStatus(c, agent.id, ["timed_out"]);
    expect(ended.endedAt! - ended.startedAt!).toBeGreaterThanOrEqual(250);
  });

  it("caps kept output and reports the dropped bytes in output, stats and metrics", async () => {
    const { c, t } = await setup({ runner: { outputCapBytes: 1024 } });
    const agent = await c.request("spawn", {
      command: "sh",
      args: ["-c", "head -c 10000 /dev/zero | tr '\\0' x"],
    });
    await waitForStatus(c, agent.id, ["exited"]);
    const output = await c.request("output", { agentId: agent.id, offset: 0 });
    expect(output.dropped).toBe(10000 - 1024);
    expect(output.offset).toBe(10000 - 1024);
    expect(output.data).toHaveLength(1024);
    expect((await c.request("get", { agentId: agent.id })).droppedBytes.stdout).toBe(8976);
    expect((await c.request("stats", {})).outputBytesDropped).toBe(8976);
    expect(metricValue(await t.metricsText(), "zeroplane_output_bytes_dropped_total")).toBe(8976);
  });

  it("stats counts requests by method and errors by code", async () => {
    const { c } = await setup();
    await c.request("health", {});
    await c.request("health", {});
    await c.call("get", { agentId: "nobody" });
    const stats = await c.request("stats", {});
    expect(stats.requests.health).toBe(2);
    expect(stats.requests.get).toBe(1);
    expect(stats.errors.NOT_FOUND).toBe(1);
    expect(stats.authRejections).toBe(0);
  });
});
