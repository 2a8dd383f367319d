/**
 * The event spool on a filesystem smaller than spoolMaxBytes (a 4 MiB tmpfs; needs root, as CI has),
 * against a real server process while nats-server is down:
 * - spawns are refused with UNAVAILABLE, naming the spool directory, once free space falls below the
 *   reserve (statfs), before the disk is full;
 * - when the disk fills anyway (ENOSPC), the server keeps running, events of running agents wait in
 *   memory, spawns are refused naming the spool and the error, and the metrics say so;
 * - once space returns and NATS restarts, every event is published, in order.
 */
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { METRIC_NAMES } from "../../../runtime/events/metrics.js";
import { DISK_RESERVE_MAX_BYTES } from "../../../runtime/events/publisher.js";
import { Spool, SpoolUnavailableError } from "../../../runtime/events/spool.js";
import type { AgentInfo, LifecycleEventType } from "../../../runtime/protocol/index.js";
import { startNats, type NatsCluster } from "../../support/nats.js";
import { startServerProcess, testServerConfig, type ServerProcess } from "../../support/server-process.js";
import { metricValue } from "../server/harness.js";
import { WireClient, WireError } from "../server/wire-client.js";
import { natsClient, readStream, waitFor } from "./helpers.js";

const KiB = 1024;
/** Makes every lifecycle event of an agent about 4 KiB (AgentInfo carries the args). */
const PADDING = "p".repeat(4 * KiB);

function freeBytes(dir: string): number {
  const stats = statfsSync(dir);
  return stats.bavail * stats.bsize;
}

/** Writes zeros to `path` until the filesystem is full. */
function fillUp(path: string): void {
  const fd = openSync(path, "a");
  const block = Buffer.alloc(16 * KiB);
  try {
    for (;;) writeSync(fd, block);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    closeSync(fd);
  }
}

/** Mounts a tmpfs of `size` on a new temporary directory; returns the directory. */
function mountTmpfs(size: string): string {
  const dir = mkdtempSync(join(tmpdir(), "zeroplane-spool-tmpfs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  return dir;
}

function unmount(dir: string): void {
  execFileSync("umount", ["-l", dir]);
  rmSync(dir, { recursive: true, force: true });
}

describe("the Spool on a full disk", () => {
  let mountPoint: string;
  beforeAll(() => {
    mountPoint = mountTmpfs("1m");
  });
  afterAll(() => unmount(mountPoint));

  it("keeps refused writes in memory in order, bounded, and writes them whole once space returns", async () => {
    const dir = join(mountPoint, "spool");
    const failures: string[] = [];
    let recovered = 0;
    const spool = new Spool({
      dir,
      maxBytes: 64 * KiB * KiB,
      pendingMaxBytes: 256 * KiB,
      retryIntervalMs: 50,
      onWriteError: (error) => failures.push(error.code ?? "?"),
      onWriteRecovered: () => recovered++,
    });
    // 10 KiB left: the first batch is written in part, then ENOSPC.
    writeFileSync(join(mountPoint, "filler"), Buffer.alloc(freeBytes(mountPoint) - 10 * KiB));
    const record = (index: number) => Buffer.from(`${String(index).padStart(6, "0")}:${"r".repeat(1000)}`);
    let accepted = 0;
    let refusedWith: unknown = null;
    for (let index = 0; index < 1000 && refusedWith === null; index++) {
      try {
        spool.append(record(index));
        accepted++;
      } catch (error) {
        refusedWith = error;
      }
      // Let the flush run, as the event loop does between events.
      if (index % 20 === 19) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(failures[0]).toBe("ENOSPC");
    expect(spool.writeFailure()).toMatchObject({ code: "ENOSPC" });
    expect(refusedWith).toBeInstanceOf(SpoolUnavailableError);
    expect((refusedWith as Error).message).toContain(dir);
    expect(spool.unwrittenBytes()).toBeGreaterThan(200 * KiB);
    expect(spool.unwrittenBytes()).toBeLessThanOrEqual(256 * KiB);
    // Records not on disk yet are still read, from memory, in order.
    expect(spool.read(accepted).map((entry) => entry.body.subarray(0, 6).toString())).toEqual(
      Array.from({ length: accepted }, (_, index) => String(index).padStart(6, "0")),
    );

    rmSync(join(mountPoint, "filler"));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(spool.writeFailure()).toBeNull();
    expect(recovered).toBe(1);
    expect(spool.unwrittenBytes()).toBe(0);
    spool.close();
    // Reopened from disk: every record whole (crc checked), none torn by the partial write.
    const corruption: string[] = [];
    const reopened = new Spool({
      dir,
      maxBytes: 64 * KiB * KiB,
      onCorruption: (message) => corruption.push(message),
    });
    const back = reopened.read(accepted + 1);
    expect(corruption).toEqual([]);
    expect(back.map((entry) => entry.body.toString())).toEqual(
      Array.from({ length: accepted }, (_, index) => record(index).toString()),
    );
    reopened.close();
  });
});

describe("the event spool on a disk that fills up while NATS is down", () => {
  let mountPoint: string;
  let spoolDir: string;
  let nats: NatsCluster;
  let server: ServerProcess;
  let client: WireClient;
  let observer: NatsConnection | undefined;
  /** Agents spawned, in spawn order, with the events each must have published in the end. */
  const spawned: Array<{ id: string; types: LifecycleEventType[] }> = [];

  const metrics = async () => (await fetch(`${server.endpoints.http}/metrics`)).text();
  const spawn = () =>
    client.request("spawn", { command: "sh", args: ["-c", "exec sleep 600", PADDING] }) as Promise<AgentInfo>;

  beforeAll(async () => {
    mountPoint = mountTmpfs("4m");
    spoolDir = join(mountPoint, "spool");
    nats = await startNats();
    await nats.nodes[0]!.stop();
    server = await startServerProcess({
      config: testServerConfig({
        server: { maxAgents: 1000 },
        runner: { stopGraceMs: 500 },
        // The default spoolMaxBytes (64 MiB) is 16 times the filesystem.
        nats: { enabled: true, urls: nats.urls, spoolDir, reconnectWaitMs: 250 },
      }),
    });
    client = new WireClient(server.endpoints.router);
  });

  afterAll(async () => {
    await client?.close();
    await server?.dispose();
    await observer?.close();
    await nats?.stop();
    unmount(mountPoint);
  });

  it("refuses spawns with UNAVAILABLE naming the spool once free space falls below the reserve", async () => {
    // Leave 256 KiB above the reserve: room for a few dozen agents' events.
    writeFileSync(
      join(mountPoint, "filler-1"),
      Buffer.alloc(freeBytes(mountPoint) - DISK_RESERVE_MAX_BYTES - 256 * KiB),
    );
    // Past the server's once-a-second statfs reading, so it sees the filler.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    let refusal: WireError | null = null;
    while (refusal === null) {
      try {
        const agent = await spawn();
        spawned.push({ id: agent.id, types: ["spawned", "started"] });
      } catch (error) {
        if (!(error instanceof WireError)) throw error;
        refusal = error;
      }
      expect(spawned.length).toBeLessThan(200);
    }
    expect(refusal.body.code).toBe("UNAVAILABLE");
    expect(refusal.body.message).toContain(spoolDir);
    expect(refusal.body.message).toMatch(/bytes free, less than the \d+-byte reserve/);
    expect(spawned.length).toBeGreaterThan(5);
    const text = await metrics();
    expect(metricValue(text, METRIC_NAMES.spoolUnavailable)).toBe(1);
    expect(metricValue(text, METRIC_NAMES.spoolWriteFailures)).toBe(0);
  });

  it("survives ENOSPC: running agents' events wait in memory, spawns name the spool and the error", async () => {
    fillUp(join(mountPoint, "filler-2"));
    // Every kill makes a "killed" event the full disk cannot take.
    for (const agent of spawned) {
      await client.request("control", { agentId: agent.id, action: "kill" });
      agent.types.push("killed");
    }
    await waitFor("every agent's killed event to be spooled", async () => {
      const text = await metrics();
      return (
        metricValue(text, METRIC_NAMES.spoolWriteFailures) > 0 &&
        // Three events per agent, each followed by its agent record (the registry is on with NATS).
        metricValue(text, METRIC_NAMES.spoolDepthEvents) === spawned.length * 3 * 2
      );
    });
    const refused = await spawn().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(WireError);
    expect((refused as WireError).body.code).toBe("UNAVAILABLE");
    expect((refused as WireError).body.message).toContain(
      `the lifecycle event spool at ${spoolDir} cannot be written (ENOSPC`,
    );
    expect(await client.request("health", {})).toMatchObject({ healthy: true });
    expect(server.child.exitCode).toBeNull();
    const text = await metrics();
    expect(metricValue(text, METRIC_NAMES.spoolUnavailable)).toBe(1);
    expect(metricValue(text, METRIC_NAMES.spoolDropped)).toBe(0);
    // One log line for the episode, however many retries.
    const errors = server.logs.filter((line) =>
      String(line.msg).startsWith("cannot write the lifecycle event spool"),
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ spoolDir });
  });

  it("once space returns and NATS restarts, publishes every spooled event in order", async () => {
    rmSync(join(mountPoint, "filler-1"));
    rmSync(join(mountPoint, "filler-2"));
    await waitFor(
      "the spool to be writable again",
      async () => metricValue(await metrics(), METRIC_NAMES.spoolUnavailable) === 0,
    );
    expect(
      server.logs.some(
        (line) => line.msg === "the lifecycle event spool is writable again; spawns are accepted",
      ),
    ).toBe(true);
    const late = await spawn();
    spawned.push({ id: late.id, types: ["spawned", "started", "killed"] });
    await client.request("control", { agentId: late.id, action: "kill" });

    await nats.nodes[0]!.restart();
    await waitFor(
      "the spool to drain into JetStream",
      async () => {
        const text = await metrics();
        return (
          metricValue(text, METRIC_NAMES.natsConnected) === 1 &&
          metricValue(text, METRIC_NAMES.spoolDepthEvents) === 0
        );
      },
      60_000,
    );
    observer = await natsClient(nats.urls);
    const stored = (await readStream(observer, "AGENT_EVENTS")).map((entry) => entry.event);
    expect(stored).toHaveLength(spawned.reduce((sum, agent) => sum + agent.types.length, 0));
    for (const agent of spawned) {
      const own = stored.filter((event) => event.agentId === agent.id);
      expect(own.map((event) => event.type)).toEqual(agent.types);
      expect(own.map((event) => event.seq)).toEqual(agent.types.map((_, index) => index + 1));
    }
    // One global FIFO: agents were spawned one after another, so their "spawned" events are in that order.
    const spawnOrder = stored.filter((event) => event.type === "spawned").map((event) => event.agentId);
    expect(spawnOrder).toEqual(spawned.map((agent) => agent.id));
    expect(metricValue(await metrics(), METRIC_NAMES.spoolDropped)).toBe(0);
  }, 90_000);
});
