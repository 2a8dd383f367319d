/**
 * The cluster registry (docs/events.md, "Cluster registry"), on a real nats-server:
 * - keyed spawn rate of an agent server process with the registry on, as a ratio to one with it off
 *   (same NATS, same run, alternating rounds);
 * - issue 17's experiment: 1,000 keyed spawns, srv-a SIGKILLed at 30% and restarted, retries on
 *   srv-b/srv-a until answered: keys started twice and agents unaccounted for, with the registry and
 *   without it, and how long srv-a's agents took to read `lost` on srv-b;
 * - the registry's record write rate (through the spool, after each event) against raw nats.js KV puts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import pino from "pino";
import { Registry } from "prom-client";
import { defaultConfig, registryBuckets } from "../runtime/config/index.js";
import { startEvents } from "../runtime/events/index.js";
import { encodeRecordValue, registryKey } from "../runtime/events/registry-keys.js";
import type { LifecycleEvent } from "../runtime/protocol/index.js";
import { startNats } from "../test/support/nats.js";
import { command, crashExperiment, startClusterServer } from "../test/runtime/events/registry-support.js";
import { startedEvents } from "./events-fixture.js";
import { median, round, type Report } from "./report.js";

const SPAWNS_PER_ROUND = 200;
const SPAWN_ROUNDS = 3;
const CONCURRENCY = 16;
const RECORDS = 3000;
const RECORD_ROUNDS = 3;
const WINDOW = 256;

async function spawnRate(nc: NatsConnection, serverId: string, tag: string): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < SPAWNS_PER_ROUND) {
      const i = next++;
      await command(nc, serverId, "spawn", {
        command: "/bin/true",
        labels: { bench: tag },
        idempotencyKey: `${tag}-${i}`,
      });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return SPAWNS_PER_ROUND / ((performance.now() - started) / 1000);
}

async function spawnRates(report: Report, urls: string[], nc: NatsConnection): Promise<void> {
  const on = await startClusterServer("bench-on", urls);
  const off = await startClusterServer("bench-off", urls, { registry: false });
  try {
    const rates = { on: [] as number[], off: [] as number[] };
    // Round 0 warms both up and is not counted; the order alternates.
    for (let r = 0; r <= SPAWN_ROUNDS; r++) {
      const order = r % 2 ? (["on", "off"] as const) : (["off", "on"] as const);
      for (const which of order) {
        const rate = await spawnRate(nc, `bench-${which}`, `spawn-${which}-${r}-${Date.now()}`);
        if (r > 0) rates[which].push(rate);
      }
    }
    const value = median(rates.on);
    const baseline = median(rates.off);
    report({
      name: "registry.keyed_spawn_rate",
      value: Math.round(value),
      unit: "spawns/s",
      baseline: Math.round(baseline),
      ratio: round(value / baseline),
      note: `${SPAWNS_PER_ROUND} keyed spawns of /bin/true x ${SPAWN_ROUNDS} rounds, ${CONCURRENCY} in flight, over NATS commands to one server process; baseline: the same server with nats.registry false (per-server idempotency); target ratio >= 0.7`,
    });
  } finally {
    await Promise.all([on.dispose(), off.dispose()]);
  }
}

async function crash(report: Report, urls: string[], nc: NatsConnection): Promise<void> {
  for (const registry of [true, false]) {
    const outcome = await crashExperiment({ urls, nc, spawns: 1000, killAt: 0.3, registry });
    const name = registry ? "registry.crash" : "registry.crash_without_registry";
    const note = `1000 keyed spawns, srv-a SIGKILLed at 30% and restarted on its spool, ${outcome.retries} retried attempts, ${outcome.elapsedMs} ms`;
    report({ name: `${name}.keys_started_twice`, value: outcome.keysStartedTwice, unit: "keys", note });
    report({ name: `${name}.keys_spawned_twice`, value: outcome.keysSpawnedTwice, unit: "keys", note });
    report({ name: `${name}.agents_unaccounted`, value: outcome.unaccounted, unit: "lookups", note });
    if (registry) {
      report({
        name: "registry.lost_after_sigkill",
        value: outcome.lostAfterMs,
        unit: "ms",
        note: "from SIGKILL of srv-a until srv-b reads one of its running agents as lost; heartbeat 300 ms (documented bound: 3 heartbeats)",
      });
    }
  }
}

async function writeRates(report: Report, urls: string[], nc: NatsConnection): Promise<void> {
  const stateDir = mkdtempSync(join(tmpdir(), "zeroplane-bench-registry-"));
  const base = defaultConfig();
  const config = {
    ...base,
    server: { ...base.server, id: "bench" },
    runner: { ...base.runner, stateDir },
    nats: { ...base.nats, enabled: true, urls, registryPrefix: "BENCH" },
  };
  const service = await startEvents({
    config,
    logger: pino({ level: "silent" }),
    registry: new Registry(),
    handler: async () => {
      throw new Error("no commands in this benchmark");
    },
    cluster: true,
  });
  try {
    const js = nc.jetstream();
    const raw = await js.views.kv("BENCH_RAW", { history: 1 });
    await (await nc.jetstreamManager()).streams.add({ name: "BENCH_RAW_EVENTS", subjects: ["raw.events.>"] });
    await new Promise((resolve) => setTimeout(resolve, 1000)); // The service connects and binds its buckets.
    const ours: number[] = [];
    const rawRates: number[] = [];
    const pairRates: number[] = [];
    /** Raw nats.js with WINDOW outstanding: a KV put per record, and with `withEvent` the event's publish first. */
    const rawRun = async (events: LifecycleEvent[], withEvent: boolean): Promise<number> => {
      let next = 0;
      const started = performance.now();
      const worker = async (): Promise<void> => {
        while (next < events.length) {
          const event = events[next++]!;
          const value = encodeRecordValue(event, "instance");
          if (withEvent) await js.publish(`raw.events.${registryKey(event.agentId)}`, value);
          await raw.put(registryKey(event.agentId), value);
        }
      };
      await Promise.all(Array.from({ length: WINDOW }, worker));
      return events.length / ((performance.now() - started) / 1000);
    };
    for (let r = 0; r <= RECORD_ROUNDS; r++) {
      const rawRate = await rawRun(startedEvents(RECORDS, `raw-${r}`), false);
      const pairRate = await rawRun(startedEvents(RECORDS, `pair-${r}`), true);
      const events = startedEvents(RECORDS, `ours-${r}`);
      const started = performance.now();
      for (const event of events) service.publish(event);
      if (!(await service.whenDrained(120_000))) throw new Error("the publisher did not drain within 120 s");
      const ourRate = RECORDS / ((performance.now() - started) / 1000);
      if (r > 0) {
        ours.push(ourRate);
        rawRates.push(rawRate);
        pairRates.push(pairRate);
      }
    }
    const buckets = registryBuckets("BENCH");
    const value = median(ours);
    const baseline = median(rawRates);
    report({
      name: "registry.record_write_rate",
      value: Math.round(value),
      unit: "records/s",
      baseline: Math.round(baseline),
      ratio: round(value / baseline),
      note: `${RECORDS} records x ${RECORD_ROUNDS} rounds into ${buckets.agents}, medians; ours: each record follows its lifecycle event through the on-disk spool (so 2 acknowledged publishes per record); baseline: raw nats.js kv.put of the same values, ${WINDOW} outstanding`,
    });
    const pair = median(pairRates);
    report({
      name: "registry.record_write_rate_vs_event_and_put",
      value: Math.round(value),
      unit: "records/s",
      baseline: Math.round(pair),
      ratio: round(value / pair),
      note: `the same run; baseline: raw nats.js doing what ours does per record, a JetStream publish of the event then a kv.put, ${WINDOW} outstanding, no spool`,
    });
  } finally {
    await service.close(5000);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

export async function run(report: Report): Promise<void> {
  const nats = await startNats();
  const nc = await connect({ servers: nats.urls });
  try {
    await writeRates(report, nats.urls, nc);
    await spawnRates(report, nats.urls, nc);
    await crash(report, nats.urls, nc);
  } finally {
    await nc.close();
    await nats.stop();
  }
}
