/**
 * Lifecycle event publish throughput: our publisher (spool write-through, ordered window, acks)
 * against raw nats.js JetStream publishing (same payloads, same Nats-Msg-Id, same window of 256
 * outstanding publishes) to the same nats-server in the same run. Medians of alternating rounds.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, headers, type JetStreamClient } from "nats";
import pino from "pino";
import { Registry } from "prom-client";
import { defaultConfig } from "../runtime/config/index.js";
import { startEvents } from "../runtime/events/index.js";
import { desiredStreamConfig } from "../runtime/events/stream.js";
import { eventMessageId, eventSubject } from "../runtime/events/subjects.js";
import type { LifecycleEvent } from "../runtime/protocol/index.js";
import { startNats } from "../test/support/nats.js";
import { startedEvents } from "./events-fixture.js";
import { median, round, type Report } from "./report.js";

const EVENTS = 5000;
const ROUNDS = 5;
const WINDOW = 256;

/** Raw nats.js: JSON payload, msgID, a window of WINDOW outstanding acknowledged publishes. */
async function rawPublish(js: JetStreamClient, events: LifecycleEvent[]): Promise<number> {
  const encoder = new TextEncoder();
  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < events.length) {
      const event = events[next++]!;
      const h = headers();
      h.set("Content-Type", "application/json");
      await js.publish(eventSubject("raw.events", event), encoder.encode(JSON.stringify(event)), {
        msgID: eventMessageId(event),
        headers: h,
        timeout: 5000,
      });
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  return events.length / ((performance.now() - started) / 1000);
}

export async function run(report: Report): Promise<void> {
  const nats = await startNats();
  const stateDir = mkdtempSync(join(tmpdir(), "zeroplane-bench-events-"));
  const nc = await connect({ servers: nats.urls });
  try {
    const base = defaultConfig();
    const config = {
      ...base,
      server: { ...base.server, id: "bench" },
      runner: { ...base.runner, stateDir },
      nats: { ...base.nats, enabled: true, urls: nats.urls },
    };
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ ...desiredStreamConfig(config.nats), name: "RAW", subjects: ["raw.events.>"] });
    const js = nc.jetstream();
    const service = await startEvents({
      config,
      logger: pino({ level: "silent" }),
      registry: new Registry(),
      handler: async () => {
        throw new Error("no commands in this benchmark");
      },
    });
    const ours: number[] = [];
    const raw: number[] = [];
    // Round 0 warms both paths up and is not counted.
    for (let round = 0; round <= ROUNDS; round++) {
      const rawRate = await rawPublish(js, startedEvents(EVENTS, `r${round}`, "raw"));
      const events = startedEvents(EVENTS, `r${round}`);
      const started = performance.now();
      for (const event of events) service.publish(event);
      if (!(await service.whenDrained(120_000))) throw new Error("the publisher did not drain within 120 s");
      const ourRate = events.length / ((performance.now() - started) / 1000);
      if (round > 0) {
        raw.push(rawRate);
        ours.push(ourRate);
      }
    }
    await service.close(5000);
    const value = median(ours);
    const baseline = median(raw);
    report({
      name: "events.publish_throughput",
      value: Math.round(value),
      unit: "events/s",
      baseline: Math.round(baseline),
      ratio: round(value / baseline),
      note: `${EVENTS} events x ${ROUNDS} rounds, medians; baseline: raw nats.js JetStream publish with the same payload, Nats-Msg-Id and ${WINDOW} outstanding publishes; ours adds the on-disk spool write-through, ordered commits and crash safety`,
    });
  } finally {
    await nc.close();
    await nats.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
