/**
 * The ConnectionRecycler on real sockets: what happens to requests in flight when a reload removes
 * keys, and that only removals close connections. (curve.test.ts covers the whole server with CURVE
 * and ZAP: the revoked client is cut off while the others keep working.)
 */
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Router } from "zeromq";
import { generateKeypair } from "../../../runtime/security/keys.js";
import { ConnectionRecycler, socketTarget } from "../../../runtime/server/revocation.js";
import { SpawnGate, startGatedRig, type GatedRig } from "./gated-rig.js";
import { metricValue } from "./harness.js";
import { waitFor } from "../../support/wait.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function recyclerFor(rig: GatedRig, settleTimeoutMs: number): ConnectionRecycler {
  const recycler = new ConnectionRecycler({
    targets: [socketTarget(rig.router.lastEndpoint!, rig.requests, () => new Router({ linger: 0 }))],
    settled: () => rig.requests.settled(),
    settleTimeoutMs,
    metrics: rig.metrics,
    logger: pino({ level: "silent" }),
  });
  cleanups.push(() => recycler.close());
  return recycler;
}

async function recycles(rig: GatedRig): Promise<number> {
  return metricValue(await rig.metrics.registry.metrics(), "zeroplane_connection_recycles_total");
}

/**
 * Waits until the client is served again. A request sent just as its connection closes is lost (the
 * client sees a timeout and retries, as the SDK does), so this retries with a short timeout.
 */
async function servedAgain(rig: GatedRig): Promise<void> {
  const health = await waitFor(
    "the client to be served after reconnecting",
    () => rig.client.request("health", {}, 2_000).catch(() => null),
    20_000,
  );
  expect(health.healthy).toBe(true);
}

const revoke = (recycler: ConnectionRecycler, count = 1) =>
  recycler.onAllowlistChange({
    added: [],
    removed: Array.from({ length: count }, () => generateKeypair().publicKey),
    generation: 1,
  });

/** A rig whose one spawn request is held inside the server at the gate, with a recycler for it. */
async function spawnHeldAtGate() {
  const gate = new SpawnGate();
  const rig = await startGatedRig(cleanups, { gate });
  const recycler = recyclerFor(rig, 60_000);
  const spawned = rig.client.request("spawn", { command: "sleep", args: ["30"] });
  await gate.arrived;
  return { gate, rig, recycler, spawned };
}

describe("closing connections after a key revocation", () => {
  it("answers the requests in flight first, then closes connections; clients reconnect and are served", async () => {
    const { gate, rig, recycler, spawned } = await spawnHeldAtGate();

    revoke(recycler, 2);
    expect(metricValue(await rig.metrics.registry.metrics(), "zeroplane_allowlist_revocations_total")).toBe(
      2,
    );
    // The spawn is held, so the recycle is still waiting for it: the connection is still open.
    await rig.client.request("health", {});
    expect(await recycles(rig)).toBe(0);

    gate.open();
    // Without the wait the reply would go to a closed connection and be lost.
    expect((await spawned).status).toBe("running");
    await recycler.idle();
    expect(await recycles(rig)).toBe(1);
    expect(recycler.bound()).toBe(true);
    // The DEALER reconnects by itself to the re-bound endpoint.
    await servedAgain(rig);
  });

  it("closes connections after settleTimeoutMs even when a request never finishes", async () => {
    const gate = new SpawnGate();
    const rig = await startGatedRig(cleanups, { gate });
    const recycler = recyclerFor(rig, 300);
    rig.client.call("spawn", { command: "sleep", args: ["30"] }).catch(() => undefined);
    await gate.arrived;

    revoke(recycler);
    await recycler.idle();
    expect(await recycles(rig)).toBe(1);
    expect(gate.waiting).toBe(1);
    await servedAgain(rig);
  });

  it("closes nothing when a reload only adds keys", async () => {
    const gate = new SpawnGate();
    const rig = await startGatedRig(cleanups, { gate });
    const recycler = recyclerFor(rig, 60_000);
    let disconnects = 0;
    rig.client.socket.events.on("disconnect", () => disconnects++);
    await rig.client.request("health", {});

    recycler.onAllowlistChange({ added: [generateKeypair().publicKey], removed: [], generation: 1 });
    await recycler.idle();
    expect(await recycles(rig)).toBe(0);
    expect(metricValue(await rig.metrics.registry.metrics(), "zeroplane_allowlist_revocations_total")).toBe(
      0,
    );
    await rig.client.request("health", {});
    expect(disconnects).toBe(0);
  });

  it("runs one recycle at a time and follows a revocation that arrives during one with another", async () => {
    const { gate, rig, recycler, spawned } = await spawnHeldAtGate();
    revoke(recycler);
    revoke(recycler);
    gate.open();
    await spawned;
    await recycler.idle();
    expect(await recycles(rig)).toBe(2);
    await servedAgain(rig);
  });
});
