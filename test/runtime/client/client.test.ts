import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StreamEvent } from "../../../runtime/protocol/index.js";
import { RemoteError, ZeroplaneClient } from "../../../runtime/client/index.js";
import type { ServerProcess } from "../../support/server-process.js";
import { ServerPool, serverSpecs, waitUntil, type TestServerSpec } from "./support/servers.js";

describe("client against one real server process", () => {
  const pool = new ServerPool();
  let spec: TestServerSpec;
  let server: ServerProcess;
  let client: ZeroplaneClient;

  beforeAll(async () => {
    [spec] = (await serverSpecs(1)) as [TestServerSpec];
    server = await pool.start(spec);
    client = await ZeroplaneClient.connect({
      endpoints: spec.endpoint,
      publishEndpoints: [spec.publishEndpoint],
      timeoutMs: 20_000,
    });
  });
  afterAll(async () => {
    client?.close();
    await pool.disposeAll();
  });

  it("spawns an agent, reads its output and sees it exit", async () => {
    const agent = await client.spawn({
      command: "sh",
      args: ["-c", "echo hello; echo oops >&2"],
      labels: { t: "a" },
    });
    expect(agent.serverId).toBe(spec.id);
    const done = await client.waitFor(agent.id, { timeoutMs: 15_000 });
    expect(done).toMatchObject({ status: "exited", exitCode: 0 });
    const stdout = await client.output({ agentId: agent.id });
    expect(Buffer.from(stdout.data).toString()).toBe("hello\n");
    expect(stdout.eof).toBe(true);
    const stderr = await client.output({ agentId: agent.id, stream: "stderr" });
    expect(Buffer.from(stderr.data).toString()).toBe("oops\n");
  });

  it("gives the same agent back when a spawn is repeated with its idempotency key", async () => {
    const first = await client.spawn({ command: "sleep", args: ["30"], idempotencyKey: "same-key-1" });
    const again = await client.spawn({ command: "sleep", args: ["30"], idempotencyKey: "same-key-1" });
    expect(again.id).toBe(first.id);
    await client.kill(first.id);
  });

  it("pauses, resumes, signals, writes to and stops an agent", async () => {
    const agent = await client.spawn({ command: "sh", args: ["-c", "read line; echo got:$line; sleep 30"] });
    expect((await client.pause(agent.id)).status).toBe("paused");
    expect((await client.resume(agent.id)).status).toBe("running");
    expect((await client.signal(agent.id, "SIGWINCH")).status).toBe("running");
    await client.write(agent.id, "ping\n");
    await waitUntil(
      async () => Buffer.from((await client.output({ agentId: agent.id })).data).toString() === "got:ping\n",
      15_000,
      "the agent to echo its input",
    );
    await client.stop(agent.id, { graceMs: 1_000 });
    const done = await client.waitFor(agent.id, { timeoutMs: 15_000 });
    expect(done.status).toBe("killed");
  });

  it("controls many agents in one batch and reports each", async () => {
    const agents = await Promise.all([1, 2, 3].map(() => client.spawn({ command: "sleep", args: ["30"] })));
    const result = await client.batchControl({
      agentIds: [...agents.map((a) => a.id), "no-such-agent"],
      action: "kill",
    });
    expect(result.results.map((r) => r.ok)).toEqual([true, true, true, false]);
    expect(result.results[3]!.error?.code).toBe("NOT_FOUND");
  });

  it("lists agents by label and pages with a cursor", async () => {
    await Promise.all(
      [1, 2, 3].map((i) => client.spawn({ command: "true", labels: { group: "paged", n: String(i) } })),
    );
    const first = await client.list({ labels: { group: "paged" }, limit: 2 });
    expect(first.agents).toHaveLength(2);
    expect(first.total).toBe(3);
    expect(first.nextCursor).not.toBeNull();
    const rest = await client.list({ labels: { group: "paged" }, limit: 2, cursor: first.nextCursor! });
    expect(rest.agents).toHaveLength(1);
    const all = await client.listAll({ labels: { group: "paged" } });
    expect(all.agents.map((a) => a.labels.n).sort()).toEqual(["1", "2", "3"]);
  });

  it("reports the server's errors with their code and does not retry them", async () => {
    const error = await client.get("no-such-agent").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).code).toBe("NOT_FOUND");
    const bad = await client.spawn({ command: "" }).catch((e: unknown) => e);
    expect((bad as RemoteError).code).toBe("BAD_REQUEST");
  });

  it("reports health and stats, and learns the server id", async () => {
    const health = await client.health();
    expect(health).toMatchObject({ healthy: true, ready: true, serverId: spec.id });
    const stats = await client.stats();
    expect(stats.spawns).toBeGreaterThan(0);
    expect(client.servers()).toEqual([
      expect.objectContaining({ serverId: spec.id, connected: true, breaker: "closed" }),
    ]);
  });

  it("follows output to the end of a running agent", async () => {
    const agent = await client.spawn({
      command: "sh",
      args: ["-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done"],
    });
    let text = "";
    for await (const chunk of client.follow(agent.id, { pollMs: 100 }))
      text += Buffer.from(chunk.data).toString();
    expect(text).toBe("line1\nline2\nline3\n");
  });

  it("follows a fast writer's output with every byte once, in order, offsets chained", async () => {
    const agent = await client.spawn({ command: "seq", args: ["1", "300000"] });
    const parts: Buffer[] = [];
    let next = 0;
    for await (const chunk of client.follow(agent.id, { pollMs: 100 })) {
      expect(chunk.offset).toBe(next);
      expect(chunk.nextOffset).toBe(chunk.offset + chunk.data.byteLength);
      next = chunk.nextOffset;
      parts.push(Buffer.from(chunk.data));
    }
    const expected = Array.from({ length: 300_000 }, (_, i) => `${i + 1}\n`).join("");
    const got = Buffer.concat(parts).toString();
    expect(got.length).toBe(expected.length);
    expect(got === expected).toBe(true);
  });

  it("follows from the output events once caught up, not with a request per event", async () => {
    const before = (await client.stats()).requests.output ?? 0;
    const agent = await client.spawn({
      command: "sh",
      args: ["-c", "for i in $(seq 1 40); do echo line$i; sleep 0.03; done"],
    });
    let text = "";
    // A poll interval longer than the agent's life: only events and status changes trigger reads.
    for await (const chunk of client.follow(agent.id, { pollMs: 60_000 }))
      text += Buffer.from(chunk.data).toString();
    expect(text).toBe(Array.from({ length: 40 }, (_, i) => `line${i + 1}\n`).join(""));
    const reads = ((await client.stats()).requests.output ?? 0) - before;
    // The first read, one per gap before the subscription took, one per status change, the last.
    expect(reads).toBeGreaterThan(0);
    expect(reads).toBeLessThan(12);
  });

  it("follows with write times by offset reads alone", async () => {
    const agent = await client.spawn({ command: "sh", args: ["-c", "echo one; sleep 0.2; echo two"] });
    let text = "";
    for await (const chunk of client.follow(agent.id, { pollMs: 100, times: true })) {
      if (chunk.data.byteLength > 0) expect(chunk.times?.[0]?.[0]).toBe(chunk.offset);
      text += Buffer.from(chunk.data).toString();
    }
    expect(text).toBe("one\ntwo\n");
  });

  it("streams status and output events, and keeps the subscription across a server restart", async () => {
    const events: StreamEvent[] = [];
    const unsubscribe = client.subscribe({}, (event) => events.push(event));
    /** Spawns probe agents until one's status event arrives on the stream. */
    const probeUntilStreamed = (probe: string, timeoutMs: number, what: string) =>
      waitUntil(
        async () => {
          const agent = await client.spawn({ command: "true", labels: { probe } });
          await new Promise((r) => setTimeout(r, 100));
          return events.some((e) => e.kind === "status" && e.agent.id === agent.id);
        },
        timeoutMs,
        what,
      );
    try {
      // A SUB connection needs a moment before the PUB side sends to it: probe until events flow.
      await probeUntilStreamed("before", 20_000, "the first stream events");
      const agent = await client.spawn({ command: "sh", args: ["-c", "echo streamed"] });
      await waitUntil(
        () =>
          events.some(
            (e) =>
              e.kind === "output" &&
              e.agentId === agent.id &&
              Buffer.from(e.data).toString() === "streamed\n",
          ) &&
          events.some((e) => e.kind === "status" && e.agent.id === agent.id && e.agent.status === "exited"),
        15_000,
        "output and exit events",
      );

      server.kill("SIGKILL");
      await server.exited;
      server = await pool.start(spec);
      await probeUntilStreamed("after", 30_000, "events from the restarted server");
    } finally {
      unsubscribe();
    }
  });
});
