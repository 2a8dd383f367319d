import type { NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventsService } from "../../../runtime/events/index.js";
import { startNatsCluster, type NatsCluster } from "../../support/nats.js";
import {
  agentLife,
  eventsConfig,
  natsClient,
  perAgentSequences,
  readStream,
  tempDir,
  startPublishing,
  tearDown,
  waitForNats,
} from "./helpers.js";

const AGENTS = 1000;

describe("lifecycle events on a 3-node JetStream cluster with an R3 stream", () => {
  let cluster: NatsCluster;
  let stateDir: string;
  let service: EventsService | undefined;
  let client: NatsConnection | undefined;

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    stateDir = tempDir();
  }, 90_000);

  afterAll(async () => {
    await tearDown({ services: service ? [service] : [], client, nats: cluster, stateDir });
  });

  it("loses and duplicates no event when the stream leader is killed under load", async () => {
    service = await startPublishing(eventsConfig(cluster.urls, stateDir, { replicas: 3, required: true }));
    await waitForNats("the R3 stream to be ready", () => service!.ready(), 60_000);
    client = await natsClient(cluster.urls);
    const jsm = await waitForNats("a JetStream manager", () => client!.jetstreamManager(), 30_000);
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
