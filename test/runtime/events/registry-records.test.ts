/**
 * Agent records through the spool: spooled while NATS is down, published once it is back, each
 * agent's record ending at its last event, and a backlog's superseded records not sent one by one.
 */
import { describe, expect, it } from "vitest";
import { EVENTS_METRIC_NAMES, registryBuckets } from "../../../runtime/config/index.js";
import { registryKey, type AgentRecordValue } from "../../../runtime/events/registry-keys.js";
import { agentLife, natsPerSuite, newRegistry, waitFor, waitForNats } from "./helpers.js";

const AGENTS = 100;

describe("agent records through the spool", () => {
  const suite = natsPerSuite();

  it("keeps records while NATS is down and publishes each agent's newest", async () => {
    const { nats } = suite;
    await nats.nodes[0]!.stop();
    const metrics = newRegistry();
    const service = await suite.start({}, metrics, true);
    for (let i = 0; i < AGENTS; i++)
      for (const event of agentLife("srv-a", `agent-${i}`)) service.publish(event);
    // Each event is followed by its agent's record in the spool.
    await waitFor("the backlog in the spool", () => service.status().spoolEvents === AGENTS * 6);
    await nats.nodes[0]!.restart();
    expect(await service.whenDrained(60_000)).toBe(true);

    const written = (await metrics.getSingleMetric(EVENTS_METRIC_NAMES.registryWrites)!.get()).values[0]!
      .value;
    // Superseded records in one read of the backlog are skipped: about one put per agent, not three.
    expect(written).toBeGreaterThanOrEqual(AGENTS);
    expect(written).toBeLessThan(AGENTS * 2);
    const client = await suite.client();
    const kv = await waitForNats(
      "the agents bucket",
      () => client.jetstream().views.kv(registryBuckets("ZEROPLANE").agents, { bindOnly: true }),
      30_000,
    );
    for (let i = 0; i < AGENTS; i++) {
      const entry = await kv.get(registryKey(`agent-${i}`));
      expect(entry?.json<AgentRecordValue>(), `agent-${i}`).toMatchObject({
        seq: 3,
        instance: service.cluster!.instance,
        agent: { id: `agent-${i}`, status: "exited" },
      });
    }
  }, 120_000);
});
