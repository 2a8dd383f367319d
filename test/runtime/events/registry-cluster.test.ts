/**
 * The registry's agent records on a 3-node JetStream cluster with R3 buckets: the KV bucket's leader
 * is SIGKILLed under load and no record is lost, each ending at its agent's last event; idempotency
 * claims made before the kill survive it.
 */
import { describe, expect, it } from "vitest";
import { registryBuckets } from "../../../runtime/config/index.js";
import { registryKey, type AgentRecordValue } from "../../../runtime/events/registry-keys.js";
import { startNatsCluster } from "../../support/nats.js";
import { agentLife, natsPerSuite, newRegistry, waitForNats } from "./helpers.js";

const AGENTS = 1000;
const buckets = registryBuckets("ZEROPLANE");

describe("the cluster registry on a 3-node JetStream cluster with R3 buckets", () => {
  const suite = natsPerSuite(() => startNatsCluster(3), 90_000);

  it("loses no record when the agents bucket's leader is killed under load", async () => {
    const { nats: cluster } = suite;
    const service = await suite.start({ replicas: 3, required: true }, newRegistry(), true);
    const registry = service.cluster!;
    await waitForNats("the R3 stream and buckets to be ready", () => registry.usable(), 60_000);
    const client = await suite.client();
    const jsm = await waitForNats("a JetStream manager", () => client.jetstreamManager(), 30_000);
    const info = await waitForNats(
      "the agents bucket's stream info",
      () => jsm.streams.info(`KV_${buckets.agents}`),
      30_000,
    );
    expect(info.config.num_replicas).toBe(3);
    const leader = cluster.nodes.find((node) => node.name === info.cluster?.leader);
    expect(leader, `leader ${info.cluster?.leader}`).toBeDefined();

    const claims = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        registry.claim(`key-${i}`, {
          serverId: "srv-a",
          instance: registry.instance,
          agentId: `agent-${i}`,
          at: 1,
        }),
      ),
    );
    expect(claims.every((claim) => claim.won)).toBe(true);

    for (let i = 0; i < AGENTS; i++) {
      if (i === 300) await leader!.kill();
      for (const event of agentLife("srv-a", `agent-${i}`)) service.publish(event);
      if (i % 25 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(await service.whenDrained(60_000)).toBe(true);
    expect(leader!.running()).toBe(false);

    const js = client.jetstream();
    const agents = await waitForNats(
      "the agents bucket",
      () => js.views.kv(buckets.agents, { bindOnly: true }),
      30_000,
    );
    const keys = await waitForNats(
      "the keys bucket",
      () => js.views.kv(buckets.keys, { bindOnly: true }),
      30_000,
    );
    const missing: string[] = [];
    for (let first = 0; first < AGENTS; first += 100) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          waitForNats(
            `agent-${first + j}'s record`,
            () => agents.get(registryKey(`agent-${first + j}`)).then((e) => ({ e })),
            30_000,
          ),
        ),
      );
      batch.forEach(({ e }, j) => {
        const value = e?.operation === "PUT" ? e.json<AgentRecordValue>() : null;
        if (!value || value.seq !== 3 || value.agent.status !== "exited") missing.push(`agent-${first + j}`);
      });
    }
    expect(missing).toEqual([]);
    for (let i = 0; i < 50; i++) {
      const entry = await waitForNats(`key-${i}'s claim`, () => keys.get(`key-${i}`), 30_000);
      expect(entry.json<{ agentId: string }>().agentId).toBe(`agent-${i}`);
    }
  }, 180_000);
});
