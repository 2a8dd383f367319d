import { describe, expect, it } from "vitest";
import { startNatsCluster } from "../../support/nats.js";
import { agentLife, natsPerSuite, perAgentSequences, readStream, waitForNats } from "./helpers.js";

const AGENTS = 1000;

describe("lifecycle events on a 3-node JetStream cluster with an R3 stream", () => {
  const suite = natsPerSuite(() => startNatsCluster(3), 90_000);

  it("loses and duplicates no event when the stream leader is killed under load", async () => {
    const { nats: cluster } = suite;
    const service = await suite.start({ replicas: 3, required: true });
    await waitForNats("the R3 stream to be ready", () => service.ready(), 60_000);
    const client = await suite.client();
    const jsm = await waitForNats("a JetStream manager", () => client.jetstreamManager(), 30_000);
    const info = await waitForNats("the stream's info", () => jsm.streams.info("AGENT_EVENTS"), 30_000);
    expect(info.config.num_replicas).toBe(3);
    const leaderName = info.cluster?.leader;
    const leader = cluster.nodes.find((node) => node.name === leaderName);
    expect(leader, `leader ${leaderName}`).toBeDefined();

    for (let i = 0; i < AGENTS; i++) {
      if (i === 300) await leader!.kill();
      for (const event of agentLife("srv-a", `agent-${i}`)) service.publish(event);
      if (i % 25 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(await service.whenDrained(50_000)).toBe(true);
    expect(leader!.running()).toBe(false);

    const stored = await readStream(client, "AGENT_EVENTS");
    expect(stored).toHaveLength(AGENTS * 3);
    const ids = stored.map((s) => s.msgId);
    expect(new Set(ids).size).toBe(ids.length);
    const sequences = perAgentSequences(stored);
    for (let i = 0; i < AGENTS; i++)
      expect(sequences.get(`srv-a/agent-${i}`), `agent-${i}`).toEqual([1, 2, 3]);
  }, 120_000);
});
