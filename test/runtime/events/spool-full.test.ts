import { describe, expect, it } from "vitest";
import { REFUSE_SPAWNS_AT } from "../../../runtime/events/publisher.js";
import { lifecycleEvent, newRegistry, eventsPerTest } from "./helpers.js";

const SPOOL_MAX = 64 * 1024;

async function metricValue(registry: ReturnType<typeof newRegistry>, name: string): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return Number(metric?.values[0]?.value ?? NaN);
}

describe("a full event spool", () => {
  const t = eventsPerTest((nats) => nats.nodes[0]!.stop());

  it("under refuse-spawns: stops accepting spawns at 90%, keeps every event, and accepts again once drained", async () => {
    const registry = newRegistry();
    const service = await t.start({ spoolMaxBytes: SPOOL_MAX, spoolFullPolicy: "refuse-spawns" }, registry);
    let published = 0;
    while (service.acceptingSpawns()) {
      service.publish(lifecycleEvent("srv-a", "agent-1", ++published, "output_truncated"));
      expect(published).toBeLessThan(10_000);
    }
    const { spoolBytes, spoolEvents } = service.status();
    expect(spoolBytes).toBeGreaterThanOrEqual(SPOOL_MAX * REFUSE_SPAWNS_AT);
    expect(spoolBytes).toBeLessThanOrEqual(SPOOL_MAX);
    expect(spoolEvents).toBe(published);
    expect(service.acceptingSpawns()).toBe(false);
    expect(await metricValue(registry, "zeroplane_events_spawns_refused_total")).toBe(2);
    expect(await metricValue(registry, "zeroplane_events_spool_dropped_total")).toBe(0);
    expect(await metricValue(registry, "zeroplane_events_spool_depth_events")).toBe(published);
    expect(await metricValue(registry, "zeroplane_events_spool_depth_bytes")).toBe(spoolBytes);

    await t.nats.nodes[0]!.restart();
    expect(await service.whenDrained(30_000)).toBe(true);
    expect(service.acceptingSpawns()).toBe(true);
    const stored = await t.stored();
    expect(stored.map((s) => s.event.seq)).toEqual(Array.from({ length: published }, (_, i) => i + 1));
  });

  it("under refuse-spawns: drops the oldest only as a last resort, when running agents fill the headroom", async () => {
    const registry = newRegistry();
    const service = await t.start({ spoolMaxBytes: SPOOL_MAX, spoolFullPolicy: "refuse-spawns" }, registry);
    for (let seq = 1; seq <= 500; seq++)
      service.publish(lifecycleEvent("srv-a", "agent-1", seq, "output_truncated"));
    expect(service.status().spoolBytes).toBeLessThanOrEqual(SPOOL_MAX);
    const kept = service.status().spoolEvents;
    expect(kept).toBeLessThan(500);
    expect(await metricValue(registry, "zeroplane_events_spool_dropped_total")).toBe(500 - kept);
  });

  it("under drop-oldest: keeps accepting spawns, drops and counts the oldest, publishes the newest in order", async () => {
    const registry = newRegistry();
    const service = await t.start({ spoolMaxBytes: SPOOL_MAX, spoolFullPolicy: "drop-oldest" }, registry);
    const total = 500;
    for (let seq = 1; seq <= total; seq++) {
      service.publish(lifecycleEvent("srv-a", "agent-1", seq, "output_truncated"));
      expect(service.acceptingSpawns()).toBe(true);
      expect(service.status().spoolBytes).toBeLessThanOrEqual(SPOOL_MAX);
    }
    const kept = service.status().spoolEvents;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(total);
    expect(await metricValue(registry, "zeroplane_events_spool_dropped_total")).toBe(total - kept);
    expect(await metricValue(registry, "zeroplane_events_spawns_refused_total")).toBe(0);

    await t.nats.nodes[0]!.restart();
    expect(await service.whenDrained(30_000)).toBe(true);
    const stored = await t.stored();
    expect(stored.map((s) => s.event.seq)).toEqual(
      Array.from({ length: kept }, (_, i) => total - kept + i + 1),
    );
  });
});
