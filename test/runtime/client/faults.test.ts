/**
 * Faults with real server processes: a stalled server, a late reply, and a server killed mid-load.
 *
 * What is guaranteed (see docs/client.md): a retried spawn carries the same idempotency key, and
 * retries after a timeout go back to the same server while the connection holds, so a server that
 * got the spawn answers with the agent it made. Idempotency keys live in server memory: after a
 * crash the restarted server does not know them; the crashed server's agents are the runner's to
 * end (watchdog, stateDir reaping). The live server never holds two agents for one spawn.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  RequestTimeoutError,
  UnreachableError,
  ZeroplaneClient,
  type ClientOptions,
} from "../../../runtime/client/index.js";
import { poolPerTest, serverSpecs, waitUntil } from "./support/servers.js";

/** Live (not zombie) processes whose command line holds an argument starting with `prefix`, by that argument. */
function liveProcessesByMarker(prefix: string): Map<string, { pids: number[] }> {
  const found = new Map<string, { pids: number[] }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]?.startsWith("Z")) continue;
    } catch {
      continue;
    }
    const marker = cmdline.split("\0").find((arg) => arg.startsWith(prefix));
    if (!marker) continue;
    const processes = found.get(marker) ?? { pids: [] };
    processes.pids.push(Number(entry));
    found.set(marker, processes);
  }
  return found;
}

/** SIGKILLs an agent's process group (agents lead their own group), or the process alone. */
function killQuietly(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, "SIGKILL");
    } catch {
      // Not a group leader, or already gone.
    }
  }
}

/** True once a health request succeeds. */
function answersHealth(client: ZeroplaneClient): Promise<boolean> {
  return client.health().then(
    () => true,
    () => false,
  );
}

describe("client under server faults", () => {
  const { pool, clients } = poolPerTest();

  /** Starts one server and a client to it with `options`, ready once a health call succeeds. */
  async function oneServer(options: Omit<ClientOptions, "endpoints">) {
    const [spec] = await serverSpecs(1);
    const server = await pool.start(spec!);
    const client = await ZeroplaneClient.connect({ endpoints: spec!.endpoint, ...options });
    clients.push(client);
    await client.health();
    return { spec: spec!, server, client };
  }

  it("fails with a timeout error, not a hang, when the server is stalled (SIGSTOP)", async () => {
    const { server, client } = await oneServer({
      timeoutMs: 3_000,
      attemptTimeoutMs: 1_000,
    });

    process.kill(server.pid, "SIGSTOP");
    const started = Date.now();
    const error = await client.health().catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(RequestTimeoutError);
    expect((error as Error).message).toMatch(
      /no reply from tcp:\/\/127\.0\.0\.1:\d+ to health within \d+ ms.*stalled/,
    );
    // Bounded by the call's deadline (plus scheduling slack on a loaded machine), not hanging.
    expect(elapsed).toBeLessThan(3_000 + 5_000);

    process.kill(server.pid, "SIGCONT");
    await waitUntil(() => answersHealth(client), 30_000, "the server to answer again");
  });

  it("opens the circuit after repeated timeouts, fails fast while open, and closes it after a good probe", async () => {
    const { server, client } = await oneServer({
      timeoutMs: 1_000,
      maxAttempts: 1,
      breaker: { failureThreshold: 2, resetTimeoutMs: 1_500 },
    });

    process.kill(server.pid, "SIGSTOP");
    for (let i = 0; i < 2; i++) await expect(client.health()).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(client.servers()[0]!.breaker).toBe("open");
    const fast = await client.health().catch((e: unknown) => e);
    expect(fast).toBeInstanceOf(UnreachableError);
    expect((fast as Error).message).toMatch(
      /is failing \(circuit open after repeated timeouts\); next probe in \d+ ms/,
    );

    process.kill(server.pid, "SIGCONT");
    await waitUntil(
      () => client.servers()[0]!.breaker === "half-open",
      10_000,
      "the circuit to allow a probe",
    );
    await waitUntil(() => answersHealth(client), 30_000, "a successful probe");
    expect(client.servers()[0]!.breaker).toBe("closed");
  });

  it("retries a spawn whose reply is late against the same server, which answers with the one agent it made", async () => {
    const { server, client } = await oneServer({
      timeoutMs: 40_000,
      attemptTimeoutMs: 800,
      backoff: { initialDelayMs: 50, maxDelayMs: 200 },
      // More attempts than the stall lasts; the breaker must not give up on the server either.
      maxAttempts: 100,
      breaker: { failureThreshold: 1_000 },
    });

    process.kill(server.pid, "SIGSTOP");
    const spawning = client.spawn({ command: "sleep", args: ["30"], labels: { test: "late-reply" } });
    // Let several attempts time out while the server holds them unread.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    process.kill(server.pid, "SIGCONT");
    const agent = await spawning;

    const listed = await client.listAll({ labels: { test: "late-reply" } });
    expect(listed.agents.map((a) => a.id)).toEqual([agent.id]);
    const stats = await client.stats();
    expect(stats.spawns).toBe(1);
    expect(stats.idempotentReplays).toBeGreaterThanOrEqual(1);
    await client.kill(agent.id);
  });

  it("completes every request when the server is SIGKILLed mid-load and restarted, and the live server holds one agent per spawn", async () => {
    const started = await oneServer({
      timeoutMs: 90_000,
      attemptTimeoutMs: 5_000,
      maxAttempts: 1_000,
      backoff: { initialDelayMs: 100, maxDelayMs: 1_000 },
      breaker: { failureThreshold: 3, resetTimeoutMs: 500 },
    });
    const { spec, client } = started;
    let { server } = started;

    const run = `zpfault-${process.pid}-${Date.now()}-`;
    const total = 40;
    const results: Array<Promise<{ index: number; agentId: string; createdAt: number }>> = [];
    let sent = 0;
    // Four workers spawn in sequence, so requests are in flight when the server dies.
    const workers = Array.from({ length: 4 }, async () => {
      while (sent < total) {
        const index = sent++;
        const promise = client
          .spawn({
            command: "sh",
            args: ["-c", "sleep 300; :", `${run}${index}`],
            labels: { req: String(index) },
          })
          .then((agent) => ({ index, agentId: agent.id, createdAt: agent.createdAt }));
        results.push(promise);
        await promise.catch(() => undefined);
      }
    });
    await waitUntil(() => results.length >= 12, 60_000, "a dozen spawns under way");
    const killedAt = Date.now();
    server.kill("SIGKILL");
    await server.exited;
    server = await pool.start(spec);
    const restartedAt = Date.now();
    await Promise.all(workers);

    const outcomes = await Promise.allSettled(results);
    expect(outcomes.filter((o) => o.status === "rejected")).toEqual([]);
    const completed = outcomes.map(
      (o) => (o as PromiseFulfilledResult<{ index: number; agentId: string; createdAt: number }>).value,
    );
    expect(completed.map((c) => c.index).sort((a, b) => a - b)).toEqual([...Array(total).keys()]);

    // The load straddled the crash: some spawns were answered by the first process, some by the second.
    expect(completed.some((c) => c.createdAt < killedAt)).toBe(true);
    expect(completed.some((c) => c.createdAt >= restartedAt)).toBe(true);

    // The restarted server holds one agent per spawn it made, and no spawn twice.
    const listed = await client.listAll({});
    const labels = listed.agents.map((a) => a.labels.req);
    expect(new Set(labels).size).toBe(labels.length);
    const listedIds = new Set(listed.agents.map((a) => a.id));
    for (const result of completed.filter((c) => c.createdAt >= restartedAt)) {
      expect(listedIds.has(result.agentId)).toBe(true);
    }
    // And on the machine: every spawn has exactly one live agent process that the live server owns.
    const byMarker = liveProcessesByMarker(run);
    for (let index = 0; index < total; index++) {
      const owned = listed.agents.filter((a) => a.labels.req === String(index) && a.status === "running");
      expect(owned.length, `spawn ${index}`).toBeLessThanOrEqual(1);
      if (owned.length === 1) {
        expect(byMarker.get(`${run}${index}`)?.pids).toContain(owned[0]!.pid);
      }
    }
    // Agents of the crashed server, even one forked the instant before the crash, are killed by the
    // runner (watchdog and restart reaping): soon every live agent process is one the live server owns.
    const ownedPids = new Set(listed.agents.map((a) => a.pid));
    const strays = (): number[] =>
      [...liveProcessesByMarker(run).values()].flatMap(({ pids }) =>
        pids.filter((pid) => !ownedPids.has(pid)),
      );
    try {
      await waitUntil(() => strays().length === 0, 15_000, "no agent of the crashed server left running");
    } finally {
      for (const pid of strays()) killQuietly(pid);
    }

    await client.batchControl({ agentIds: listed.agents.map((a) => a.id), action: "kill" });
  });
});
