import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { NatsConnection } from "nats";
import { beforeEach, describe, expect, it } from "vitest";
import { desiredStreamConfig } from "../../../runtime/events/stream.js";
import {
  agentLife,
  eventsConfig,
  lifecycleEvent,
  newRegistry,
  startPublishing,
  waitForNats,
  eventsPerTest,
} from "./helpers.js";

describe("lifecycle events on a single NATS node", () => {
  const t = eventsPerTest();
  let client: NatsConnection;
  beforeEach(async () => {
    client = await t.client();
  });

  it("creates the stream and publishes each event once on <prefix>.<serverId>.<agentId>.<type>", async () => {
    const registry = newRegistry();
    const service = await t.start({}, registry);
    const events = [...agentLife("srv-a", "agent-1"), ...agentLife("srv-a", "agent-2")];
    for (const event of events) service.publish(event);
    expect(await service.whenDrained(20_000)).toBe(true);

    const jsm = await client.jetstreamManager();
    const info = await jsm.streams.info("AGENT_EVENTS");
    expect(info.config.subjects).toEqual(["agent.events.>"]);
    expect(info.config.num_replicas).toBe(1);
    expect(info.config.storage).toBe("file");
    expect(info.config.duplicate_window).toBeGreaterThan(0);

    const stored = await t.stored();
    expect(stored.map((s) => s.subject)).toEqual([
      "agent.events.srv-a.agent-1.spawned",
      "agent.events.srv-a.agent-1.started",
      "agent.events.srv-a.agent-1.exited",
      "agent.events.srv-a.agent-2.spawned",
      "agent.events.srv-a.agent-2.started",
      "agent.events.srv-a.agent-2.exited",
    ]);
    expect(stored.map((s) => s.msgId)).toEqual([
      "srv-a.agent-1.1",
      "srv-a.agent-1.2",
      "srv-a.agent-1.3",
      "srv-a.agent-2.1",
      "srv-a.agent-2.2",
      "srv-a.agent-2.3",
    ]);
    expect(stored.map((s) => s.event)).toEqual(events);
    expect(await registry.getSingleMetricAsString("zeroplane_events_published_total")).toMatch(/ 6$/m);
    expect(service.status()).toMatchObject({ connected: true, spoolEvents: 0, spoolBytes: 0, problem: null });
  });

  it("stores an event published twice (same server, agent and seq) only once", async () => {
    const service = await t.start();
    const event = lifecycleEvent("srv-a", "agent-1", 1, "spawned");
    service.publish(event);
    service.publish(event);
    expect(await service.whenDrained(20_000)).toBe(true);
    const stored = await t.stored();
    expect(stored).toHaveLength(1);
  });

  it("escapes agent ids that are not valid subject tokens", async () => {
    const service = await t.start();
    service.publish(lifecycleEvent("srv-a", "team.a/job 7", 1, "spawned"));
    expect(await service.whenDrained(20_000)).toBe(true);
    const [stored] = await t.stored();
    expect(stored?.subject).toBe("agent.events.srv-a.team~2ea~2fjob~207.spawned");
    expect(stored?.event.agentId).toBe("team.a/job 7");
  });

  it("uses an existing stream whose subjects cover ours", async () => {
    const jsm = await client.jetstreamManager();
    await jsm.streams.add({
      ...desiredStreamConfig(eventsConfig(t.nats.urls, t.stateDir).nats),
      subjects: ["agent.>"],
    });
    const service = await t.start();
    service.publish(lifecycleEvent("srv-a", "agent-1", 1, "spawned"));
    expect(await service.whenDrained(20_000)).toBe(true);
    const info = await jsm.streams.info("AGENT_EVENTS");
    expect(info.config.subjects).toEqual(["agent.>"]);
    expect(info.state.messages).toBe(1);
  });

  it("refuses a stream that does not cover our subjects: not ready, events kept, problem named", async () => {
    const jsm = await client.jetstreamManager();
    await jsm.streams.add({ name: "AGENT_EVENTS", subjects: ["other.>"] });
    const service = await t.start({ required: true });
    service.publish(lifecycleEvent("srv-a", "agent-1", 1, "spawned"));
    await waitForNats(
      "the mismatch to be reported",
      () => /do not cover agent\.events\.>/.test(service.status().problem ?? ""),
      30_000,
    );
    expect(service.ready()).toBe(false);
    expect(service.status().spoolEvents).toBe(1);
    expect((await jsm.streams.info("AGENT_EVENTS")).state.messages).toBe(0);
  });

  it("fails at start, naming the directory and the setting, when the spool cannot be opened", async () => {
    const blocker = join(t.stateDir, "not-a-directory");
    writeFileSync(blocker, "");
    const start = startPublishing(
      eventsConfig(t.nats.urls, t.stateDir, { spoolDir: join(blocker, "spool") }),
    );
    await expect(start).rejects.toThrow(
      /cannot open the event spool at .*not-a-directory\/spool: ENOTDIR\. Fix: make ZEROPLANE_NATS_SPOOL_DIR/,
    );
  });

  it("is ready at once when NATS is not required, and once connected when it is", async () => {
    const optional = await startPublishing(
      eventsConfig(["nats://127.0.0.1:1"], t.stateDir, { required: false }),
    );
    t.services.push(optional);
    expect(optional.ready()).toBe(true);
    expect(optional.status().connected).toBe(false);

    const required = await startPublishing(
      eventsConfig(t.nats.urls, join(t.stateDir, "required"), { required: true }),
    );
    t.services.push(required);
    await waitForNats("readiness", () => required.ready(), 30_000);
    expect(required.status().connected).toBe(true);
  });
});
