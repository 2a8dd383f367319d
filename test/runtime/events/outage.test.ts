import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  agentLife,
  eventsConfig,
  perAgentSequences,
  type StoredEvent,
  startPublishing,
  waitForNats,
  eventsPerTest,
} from "./helpers.js";

const AGENTS = 1000;

function expectExactlyOnceInOrder(stored: readonly StoredEvent[], agents: number, serverId = "srv-a"): void {
  const ids = stored.map((s) => s.msgId);
  expect(new Set(ids).size).toBe(ids.length);
  const sequences = perAgentSequences(stored);
  expect(sequences.size).toBe(agents);
  for (let i = 0; i < agents; i++) {
    expect(sequences.get(`${serverId}/agent-${i}`), `agent-${i}`).toEqual([1, 2, 3]);
  }
}

describe("lifecycle events when NATS is unreachable", () => {
  const t = eventsPerTest();

  /** A fresh service finds `events` spooled on disk and publishes all of them. */
  async function drainsSpool(events: number): Promise<void> {
    const service = await t.start();
    expect(service.status().spoolEvents).toBe(events);
    expect(await service.whenDrained(30_000)).toBe(true);
  }

  /** JetStream holds the three events of each of `agents` agents, each once, in order. */
  async function expectStoredOnceInOrder(agents: number): Promise<void> {
    const stored = await t.stored();
    expect(stored).toHaveLength(agents * 3);
    expectExactlyOnceInOrder(stored, agents);
  }

  it("spools 1,000 agents' events while NATS is down and publishes each once, in order per agent, after", async () => {
    const service = await t.start({ required: true });
    await waitForNats("the first connection", () => service.ready(), 30_000);
    const node = t.nats.nodes[0]!;
    for (let i = 0; i < AGENTS; i++) {
      if (i === 300) {
        await node.stop();
        await waitForNats("the outage to be noticed", () => !service.ready(), 30_000);
      }
      if (i === 700) {
        expect(service.status().spoolEvents).toBeGreaterThanOrEqual(400 * 3);
        expect(service.status().connected).toBe(false);
        await node.restart();
      }
      for (const event of agentLife("srv-a", `agent-${i}`)) service.publish(event);
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await service.whenDrained(45_000)).toBe(true);
    expect(service.ready()).toBe(true);
    await expectStoredOnceInOrder(AGENTS);
  });

  it("keeps spooled events across a restart of the service and drains them after", async () => {
    await t.nats.nodes[0]!.stop();
    const first = await startPublishing(eventsConfig(t.nats.urls, t.stateDir));
    for (let i = 0; i < 100; i++) for (const event of agentLife("srv-a", `agent-${i}`)) first.publish(event);
    await first.close(500);
    expect(first.status().spoolEvents).toBe(300);

    await t.nats.nodes[0]!.restart();
    await drainsSpool(300);
    await expectStoredOnceInOrder(100);
  });

  it("keeps spooled events when the agent server is killed (SIGKILL) and drains them after", async () => {
    const script = fileURLToPath(new URL("./fixtures/spool-writer.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script, t.stateDir, "200", "srv-a"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => child.once("exit", resolve));
    await waitForNats(
      `the writer to spool (output: ${output})`,
      () => output.includes("spooled 600"),
      45_000,
    );
    child.kill("SIGKILL");
    await exited;

    await drainsSpool(600);
    await expectStoredOnceInOrder(200);
  });
});
