/**
 * Agent records through the spool: spooled while NATS is down, published once it is back, each
 * agent's record ending at its last event, and a backlog's superseded records not sent one by one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENTS_METRIC_NAMES, registryBuckets } from "../../../runtime/config/index.js";
import { startEvents, type EventsService } from "../../../runtime/events/index.js";
import { registryKey, type AgentRecordValue } from "../../../runtime/events/registry-keys.js";
import { startNats, type NatsCluster } from "../../support/nats.js";
import {
  agentLife,
  cleanup,
  eventsConfig,
  natsClient,
  newRegistry,
  refusingHandler,
  silentLogger,
  tempDir,
  waitFor,
  NATS_WAIT,
} from "./helpers.js";

const AGENTS = 100;

describe("agent records through the spool", () => {
  let nats: NatsCluster;
  let stateDir: string;
  let service: EventsService | undefined;

  beforeAll(async () => {
    nats = await startNats();
    stateDir = tempDir();
  });

  afterAll(async () => {
    await service?.close(1000);
    await nats.stop();
    cleanup(stateDir);
  });

  it("keeps records while NATS is down and publishes each agent's newest", async () => {
    await nats.nodes[0]!.stop();
    const metrics = newRegistry();
    service = await startEvents({
      config: eventsConfig(nats.urls, stateDir),
      logger: silentLogger,
      registry: metrics,
      handler: refusingHandler,
      cluster: true,
    });
    for (let i = 0; i < AGENTS; i++)
      for (const event of agentLife("srv-a", `agent-${i}`)) service.publish(event);
    // Each event is followed by its agent's record in the spool.
    await waitFor("the backlog in the spool", () => service!.status().spoolEvents === AGENTS * 6);
    await nats.nodes[0]!.restart();
    expect(await service.whenDrained(60_000)).toBe(true);

    const written = (await metrics.getSingleMetric(EVENTS_METRIC_NAMES.registryWrites)!.get()).values[0]!
      .value;
    // Superseded records in one read of the backlog are skipped: about one put per agent, not three.
    expect(written).toBeGreaterThanOrEqual(AGENTS);
    expect(written).toBeLessThan(AGENTS * 2);
    const client = await natsClient(nats.urls);
    try {
      const kv = await waitFor(
        "the agents bucket",
        () => client.jetstream().views.kv(registryBuckets("ZEROPLANE").agents, { bindOnly: true }),
        30_000,
        NATS_WAIT,
      );
      for (let i = 0; i < AGENTS; i++) {
        const entry = await kv.get(registryKey(`agent-${i}`));
        expect(entry?.json<AgentRecordValue>(), `agent-${i}`).toMatchObject({
          seq: 3,
          instance: service.cluster!.instance,
          agent: { id: `agent-${i}`, status: "exited" },
        });
      }
    } finally {
      await client.close();
    }
  }, 120_000);
});
