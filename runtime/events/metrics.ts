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
}

/** The names live in runtime/config/names.ts, shared with the monitoring construct. */
export const METRIC_NAMES = EVENTS_METRIC_NAMES;

export function createEventsMetrics(registry: Registry, source: EventsGaugeSource): EventsMetrics {
  const registers = [registry];
  const published = new Counter({
    name: METRIC_NAMES.published,
    help: "Lifecycle events acknowledged by JetStream.",
    registers,
  });
  const publishFailures = new Counter({
    name: METRIC_NAMES.publishFailures,
    help: "JetStream publish attempts that failed (timeout, disconnect, error); the event stays spooled and is retried.",
    registers,
  });
  const duplicates = new Counter({
    name: METRIC_NAMES.duplicates,
    help: "Retried publishes JetStream recognised by Nats-Msg-Id and did not store again.",
    registers,
  });
  new Gauge({
    name: METRIC_NAMES.spoolDepthEvents,
    help: "Lifecycle events in the on-disk spool, not yet acknowledged by JetStream.",
    registers,
    collect() {
      this.set(source.spoolEvents());
    },
  });
  new Gauge({
    name: METRIC_NAMES.spoolDepthBytes,
    help: "Bytes of lifecycle events in the on-disk spool, not yet acknowledged by JetStream.",
    registers,
    collect() {
      this.set(source.spoolBytes());
    },
  });
  const spoolDropped = new Counter({
    name: METRIC_NAMES.spoolDropped,
    help: "Lifecycle events dropped, oldest first, because the spool was full.",
    registers,
  });
  const spoolWriteFailures = new Counter({
    name: METRIC_NAMES.spoolWriteFailures,
    help: "Failed writes to the spool's disk (ENOSPC, EIO…), first attempts and retries; the events wait in memory.",
    registers,
  });
  new Gauge({
    name: METRIC_NAMES.spoolUnavailable,
    help: "1 while the spool's disk fails or has less free space than the reserve: spawns are refused with UNAVAILABLE.",
    registers,
    collect() {
      this.set(source.spoolUnavailable() ? 1 : 0);
    },
  });
  new Gauge({
    name: METRIC_NAMES.spoolDiskFreeBytes,
    help: "Free bytes on the spool's filesystem (statfs), -1 when unknown.",
    registers,
    collect() {
      this.set(source.spoolDiskFreeBytes() ?? -1);
    },
  });
  const spawnsRefused = new Counter({
    name: METRIC_NAMES.spawnsRefused,
    help: "Spawns refused because the spool was full under the refuse-spawns policy.",
    registers,
  });
  new Gauge({
    name: METRIC_NAMES.natsConnected,
    help: "1 when connected to NATS with the events stream ready, else 0.",
    registers,
    collect() {
      this.set(source.connected() ? 1 : 0);
    },
  });
  const commands = new Counter({
    name: METRIC_NAMES.commands,
    help: "Commands received over NATS, by method and outcome (ok or an error code).",
    labelNames: [METRIC_LABELS.method, METRIC_LABELS.outcome],
    registers,
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
