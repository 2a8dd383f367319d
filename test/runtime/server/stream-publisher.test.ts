/**
 * The PUB publisher coalesces a stream's consecutive output chunks that arrive in one turn of the
 * event loop into events of at most COALESCE_BYTES, keeps every byte and offset, and sends a status
 * event only after the output before it. And a subscriber that stops reading costs the server at most
 * server.publishHighWaterMark events: the stream drops for it instead of queueing without bound.
 */
import { decode } from "@msgpack/msgpack";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Publisher, Subscriber } from "zeromq";
import { ServerMetrics } from "../../../runtime/observability/metrics.js";
import type { AgentInfo, StreamEvent } from "../../../runtime/protocol/index.js";
import { COALESCE_BYTES, StreamPublisher } from "../../../runtime/server/stream-publisher.js";
import { rssBytes, startServerProcess, testServerConfig } from "../../support/server-process.js";
import { waitFor } from "../../support/wait.js";
import { WireClient } from "./wire-client.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function pubSub(): Promise<{ publisher: StreamPublisher; received: StreamEvent[] }> {
  const pub = new Publisher({ linger: 0 });
  await pub.bind("tcp://127.0.0.1:*");
  const sub = new Subscriber({ linger: 0 });
  sub.connect(pub.lastEndpoint!);
  sub.subscribe();
  cleanups.push(
    () => sub.close(),
    () => pub.close(),
  );
  const received: StreamEvent[] = [];
  void (async () => {
    for await (const [, body] of sub) received.push(decode(body!) as StreamEvent);
  })().catch(() => undefined);
  const publisher = new StreamPublisher(pub, new ServerMetrics(), pino({ level: "silent" }), 1_000);
  const agent = { id: "probe", status: "running" } as AgentInfo;
  // PUB drops until the subscription has arrived: probe until one event gets through.
  await waitFor(
    "the subscription to take effect",
    async () => {
      publisher.publish({ kind: "status", agent, previous: null });
      await new Promise((resolve) => setTimeout(resolve, 20));
      return received.length > 0;
    },
    10_000,
  );
  received.length = 0;
  return { publisher, received };
}

const output = (agentId: string, offset: number, data: Buffer): StreamEvent => ({
  kind: "output",
  agentId,
  stream: "stdout",
  offset,
  data,
});

describe("StreamPublisher", () => {
  it("sends chunks of one turn as events of at most COALESCE_BYTES, every byte at its offset", async () => {
    const { publisher, received } = await pubSub();
    const chunks = Array.from({ length: 20 }, (_, index) => Buffer.alloc(64 * KiB, index));
    let offset = 0;
    for (const chunk of chunks) {
      publisher.publish(output("a", offset, chunk));
      offset += chunk.length;
    }
    // Another agent's chunk in the same turn is its own event.
    publisher.publish(output("b", 0, Buffer.from("other")));
    await waitFor("every byte", () => received.length > 0 && bytesOf(received, "a") === offset, 10_000);

    const events = received.filter((e): e is Extract<StreamEvent, { kind: "output" }> => e.kind === "output");
    const ofA = events.filter((e) => e.agentId === "a");
    expect(ofA.length).toBe(Math.ceil(offset / COALESCE_BYTES));
    expect(Math.max(...ofA.map((e) => e.data.byteLength))).toBe(COALESCE_BYTES);
    let next = 0;
    for (const event of ofA) {
      expect(event.offset).toBe(next);
      next += event.data.byteLength;
    }
    expect(Buffer.concat(ofA.map((e) => e.data)).equals(Buffer.concat(chunks))).toBe(true);
    expect(Buffer.from(events.find((e) => e.agentId === "b")!.data).toString()).toBe("other");
  });

  it("does not join chunks whose offsets do not follow on", async () => {
    const { publisher, received } = await pubSub();
    publisher.publish(output("a", 0, Buffer.from("first")));
    publisher.publish(output("a", 100, Buffer.from("after a gap")));
    await waitFor("both events", () => received.length === 2, 10_000);
    expect(received.map((e) => (e.kind === "output" ? e.offset : -1))).toEqual([0, 100]);
  });

  it("sends a status event after the output published before it", async () => {
    const { publisher, received } = await pubSub();
    publisher.publish(output("a", 0, Buffer.from("last words")));
    publisher.publish({
      kind: "status",
      agent: { id: "a", status: "exited" } as AgentInfo,
      previous: "running",
    });
    await waitFor("both events", () => received.length === 2, 10_000);
    expect(received.map((e) => e.kind)).toEqual(["output", "status"]);
  });
});

function bytesOf(events: readonly StreamEvent[], agentId: string): number {
  return events.reduce(
    (sum, e) => sum + (e.kind === "output" && e.agentId === agentId ? e.data.byteLength : 0),
    0,
  );
}

describe("a subscriber that stops reading", () => {
  it("costs the server at most publishHighWaterMark events while an agent writes 1 GiB", async () => {
    const server = await startServerProcess({
      config: testServerConfig({
        server: { publishHighWaterMark: 16 },
        runner: { outputCapBytes: MiB },
      }),
    });
    cleanups.push(() => server.dispose());
    const client = new WireClient(server.endpoints.router);
    cleanups.push(() => client.close());
    // A subscriber that takes everything and reads nothing, with room for few messages of its own.
    const stalled = new Subscriber({ linger: 0, receiveHighWaterMark: 4 });
    stalled.connect(server.endpoints.publish);
    stalled.subscribe();
    cleanups.push(() => stalled.close());
    await new Promise((resolve) => setTimeout(resolve, 300));
    const baseline = rssBytes(server.pid);

    const agent = await client.request("spawn", {
      command: "head",
      args: ["-c", String(1024 * MiB), "/dev/zero"],
    });
    await waitFor(
      "the agent to finish writing",
      async () => (await client.request("get", { agentId: agent.id })).status === "exited",
      120_000,
    );
    const grown = rssBytes(server.pid) - baseline;
    // 16 events of at most 256 KiB, plus the 1 MiB output cap, plus GC slack; not the 1 GiB written.
    expect(grown).toBeLessThan(160 * MiB);
    const info = await client.request("get", { agentId: agent.id });
    expect(info.outputBytes.stdout).toBe(1024 * MiB);
  }, 180_000);
});
