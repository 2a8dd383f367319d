/**
 * Prometheus metrics of the event publisher and command intake, registered on the server's registry.
 * `remove()` unregisters them so a restarted service can register again on the same registry.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { EVENTS_METRIC_NAMES, METRIC_LABELS } from "../config/names.js";

export interface EventsMetrics {
  readonly published: Counter;
  readonly publishFailures: Counter;
  readonly duplicates: Counter;
  readonly spoolDropped: Counter;
  readonly spoolWriteFailures: Counter;
  readonly spawnsRefused: Counter;
  readonly commands: Counter<"method" | "outcome">;
  /** Agent records the registry bucket acknowledged. */
  readonly registryWrites: Counter;
  /** Idempotency-key claims by outcome: won, replay, takeover, wait. */
  readonly registryClaims: Counter<"outcome">;
  remove(): void;
}

/** Live values the gauges read at scrape time. */
export interface EventsGaugeSource {
  spoolEvents(): number;
  spoolBytes(): number;
  connected(): boolean;
  /** True while the spool's disk fails or is below its free-space reserve (spawns are refused). */
  spoolUnavailable(): boolean;
  /** Free bytes on the spool's filesystem, or null if unknown. */
  spoolDiskFreeBytes(): number | null;
  /** True, false, or null when the cluster registry is off (no gauge value then). @default null */
  registryReady?(): boolean | null;
}

/** The names live in runtime/config/names.ts, shared with the monitoring construct. */
export const METRIC_NAMES = EVENTS_METRIC_NAMES;

export function createEventsMetrics(registry: Registry, source: EventsGaugeSource): EventsMetrics {
  const registers = [registry];
  const counter = (name: string, help: string) => new Counter({ name, help, registers });
  // Gauges read their value from the source at scrape time.
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  const published = counter(METRIC_NAMES.published, "Lifecycle events acknowledged by JetStream.");
  const publishFailures = counter(
    METRIC_NAMES.publishFailures,
    "JetStream publish attempts that failed (timeout, disconnect, error); the event stays spooled and is retried.",
  );
  const duplicates = counter(
    METRIC_NAMES.duplicates,
    "Retried publishes JetStream recognised by Nats-Msg-Id and did not store again.",
  );
  gauge(
    METRIC_NAMES.spoolDepthEvents,
    "Lifecycle events and cluster-registry agent records in the on-disk spool, not yet acknowledged by JetStream.",
    () => source.spoolEvents(),
  );
  gauge(
    METRIC_NAMES.spoolDepthBytes,
    "Bytes of lifecycle events and cluster-registry agent records in the on-disk spool, not yet acknowledged by JetStream.",
    () => source.spoolBytes(),
  );
  const spoolDropped = counter(
    METRIC_NAMES.spoolDropped,
    "Lifecycle events dropped, oldest first, because the spool was full.",
  );
  const spoolWriteFailures = counter(
    METRIC_NAMES.spoolWriteFailures,
    "Failed writes to the spool's disk (ENOSPC, EIO…), first attempts and retries; the events wait in memory.",
  );
  gauge(
    METRIC_NAMES.spoolUnavailable,
    "1 while the spool's disk fails or has less free space than the reserve: spawns are refused with UNAVAILABLE.",
    () => (source.spoolUnavailable() ? 1 : 0),
  );
  gauge(
    METRIC_NAMES.spoolDiskFreeBytes,
    "Free bytes on the spool's filesystem (statfs), -1 when unknown.",
    () => source.spoolDiskFreeBytes() ?? -1,
  );
  const spawnsRefused = counter(
    METRIC_NAMES.spawnsRefused,
    "Spawns refused because the spool was full under the refuse-spawns policy.",
  );
  gauge(METRIC_NAMES.natsConnected, "1 when connected to NATS with the events stream ready, else 0.", () =>
    source.connected() ? 1 : 0,
  );
  const commands = new Counter({
    name: METRIC_NAMES.commands,
    help: "Commands received over NATS, by method and outcome (ok or an error code).",
    labelNames: [METRIC_LABELS.method, METRIC_LABELS.outcome],
    registers,
  });
  new Gauge({
    name: METRIC_NAMES.registryReady,
    help: "1 while the cluster registry is connected and this server heartbeats, 0 when not; absent when nats.registry is off.",
    registers,
    collect() {
      const ready = source.registryReady?.() ?? null;
      if (ready === null) this.reset();
      else this.set(ready ? 1 : 0);
    },
  });
  const registryWrites = new Counter({
    name: METRIC_NAMES.registryWrites,
    help: "Agent records written to the cluster registry's KV bucket (acknowledged), through the spool.",
    registers,
  });
  const registryClaims = new Counter({
    name: METRIC_NAMES.registryClaims,
    help: "Spawn idempotency-key claims in the cluster registry, by outcome (won, replay, takeover, wait).",
    labelNames: [METRIC_LABELS.outcome],
    registers,
  });
  return {
    published,
    registryWrites,
    registryClaims,
    publishFailures,
    duplicates,
    spoolDropped,
    spoolWriteFailures,
    spawnsRefused,
    commands,
    remove() {
      for (const name of Object.values(METRIC_NAMES)) registry.removeSingleMetric(name);
    },
  };
}
