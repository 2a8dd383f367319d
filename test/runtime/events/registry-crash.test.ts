/**
 * Issue 17's crash experiment, scaled down: 200 keyed spawns against two real agent server processes
 * on one real nats-server, srv-a SIGKILLed at 30% and restarted on the same spool, every spawn retried
 * (srv-a, srv-b, srv-a, ...) until answered. No key may start two agents and every answered agent must
 * stay known to the cluster. The 1,000-spawn run with figures is bench/registry.bench.ts.
 */
import type { NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNats, type NatsCluster } from "../../support/nats.js";
import { natsClient } from "./helpers.js";
import { crashExperiment } from "./registry-support.js";

describe("exactly-once keyed spawns across a SIGKILL", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNats();
    nc = await natsClient(nats.urls);
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it("starts no key twice and loses no agent when a server is killed mid-run", async () => {
    const outcome = await crashExperiment({ urls: nats.urls, nc, spawns: 200, killAt: 0.3 });
    expect(outcome.retries).toBeGreaterThan(0); // The kill really hit the run.
    expect(outcome.keysStartedTwice).toBe(0);
    expect(outcome.keysSpawnedTwice).toBe(0);
    expect(outcome.unaccounted).toBe(0);
    expect(outcome.listed).toBe(200);
  }, 240_000);
});
