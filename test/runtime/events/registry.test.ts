/**
 * The cluster registry with real processes: two agent servers on one real nats-server. One agent per
 * idempotency key across both servers, `list` and `get` for the whole cluster on either, control routed
 * to the owner, and a SIGKILLed server's agents reading `lost` on the survivor.
 */
import type { NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { loadConfig, registryBuckets } from "../../../runtime/config/index.js";
import { idempotencyKeyName } from "../../../runtime/events/registry-keys.js";
import { ProtocolError, type AgentInfo } from "../../../runtime/protocol/index.js";
import { startServer, type AgentServer } from "../../../runtime/server/index.js";
import { startNats, type NatsCluster } from "../../support/nats.js";
import type { ServerProcess } from "../../support/server-process.js";
import { cleanup, natsClient, tempDir, waitFor, NATS_WAIT } from "./helpers.js";
import { command, CommandError, startClusterServer } from "./registry-support.js";

const sleeper = { command: "/bin/sh", args: ["-c", "sleep 600"] };

describe("the cluster registry, two servers on one NATS", () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    nats = await startNats();
    nc = await natsClient(nats.urls);
    [a, b] = await Promise.all([
      startClusterServer("srv-a", nats.urls),
      startClusterServer("srv-b", nats.urls),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a?.dispose(), b?.dispose()]);
    await nc?.close();
    await nats?.stop();
  });

  it("starts one agent per idempotency key, whichever servers the retries reach", async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `job-${i}`);
    const replies = await Promise.all(
      keys.map((key, i) =>
        Promise.all([
          command(nc, i % 2 ? "srv-a" : "srv-b", "spawn", {
            ...sleeper,
            idempotencyKey: key,
            labels: { t: "idem" },
          }),
          command(nc, i % 2 ? "srv-b" : "srv-a", "spawn", {
            ...sleeper,
            idempotencyKey: key,
            labels: { t: "idem" },
          }),
          command(nc, "srv-a", "spawn", { ...sleeper, idempotencyKey: key, labels: { t: "idem" } }),
        ]),
      ),
    );
    for (const [first, ...rest] of replies) {
      for (const other of rest) expect(other.id).toBe(first.id);
    }
    const listed = await waitFor(
      "every keyed agent in the cluster list",
      async () => {
        const page = await command(nc, "srv-b", "list", { labels: { t: "idem" }, limit: 1000 });
        return page.total === keys.length && page;
      },
      20_000,
      NATS_WAIT,
    );
    expect(new Set(listed.agents.map((agent) => agent.id))).toEqual(
      new Set(replies.map(([first]) => first.id)),
    );
    // Each agent runs on exactly one server: each server's own count adds up to the keys.
    const running = await Promise.all(
      ["srv-a", "srv-b"].map((id) =>
        command(nc, id, "stats", {}).then((stats) => stats.agentsByStatus.running),
      ),
    );
    expect(running[0]! + running[1]!).toBe(keys.length);
  });

  it("answers list and get for both servers' agents on either server, with cursors", async () => {
    const onA = await Promise.all(
      Array.from({ length: 5 }, () => command(nc, "srv-a", "spawn", { ...sleeper, labels: { t: "list" } })),
    );
    const onB = await Promise.all(
      Array.from({ length: 5 }, () => command(nc, "srv-b", "spawn", { ...sleeper, labels: { t: "list" } })),
    );
    const ids = new Set([...onA, ...onB].map((agent) => agent.id));
    for (const server of ["srv-a", "srv-b"]) {
      const seen = await waitFor(
        `${server} to list all ten agents`,
        async () => {
          const collected: AgentInfo[] = [];
          let cursor: string | undefined;
          do {
            const page = await command(nc, server, "list", {
              labels: { t: "list" },
              limit: 3,
              ...(cursor ? { cursor } : {}),
            });
            expect(page.agents.length).toBeLessThanOrEqual(3);
            collected.push(...page.agents);
            cursor = page.nextCursor ?? undefined;
          } while (cursor);
          return collected.length === 10 && collected;
        },
        20_000,
        NATS_WAIT,
      );
      expect(new Set(seen.map((agent) => agent.id))).toEqual(ids);
      expect(new Set(seen.map((agent) => agent.serverId))).toEqual(new Set(["srv-a", "srv-b"]));
    }
    const remote = await command(nc, "srv-a", "get", { agentId: onB[0]!.id });
    expect(remote).toMatchObject({ id: onB[0]!.id, serverId: "srv-b", status: "running" });
    const filtered = await command(nc, "srv-a", "list", { labels: { t: "list" }, status: ["running"] });
    expect(filtered.total).toBe(10);
    await expect(command(nc, "srv-a", "list", { cursor: "bogus" })).rejects.toMatchObject({
      body: { code: "BAD_REQUEST", message: expect.stringMatching(/list cursor "bogus" is not valid/) },
    });
  });

  it("routes control and output of another server's agent to its owner", async () => {
    const talker = await command(nc, "srv-b", "spawn", {
      command: "/bin/sh",
      args: ["-c", "echo routed-hello; sleep 600"],
      labels: { t: "route" },
    });
    const output = await waitFor(
      "srv-a to read srv-b's agent's output",
      async () => {
        const read = await command(nc, "srv-a", "output", { agentId: talker.id });
        return new TextDecoder().decode(read.data).includes("routed-hello") && read;
      },
      20_000,
      NATS_WAIT,
    );
    expect(output.stream).toBe("stdout");
    await command(nc, "srv-a", "control", { agentId: talker.id, action: "kill" });
    const agent = await command(nc, "srv-b", "spawn", { ...sleeper, labels: { t: "route" } });
    const stopped = await command(nc, "srv-a", "control", { agentId: agent.id, action: "kill" });
    expect(stopped.serverId).toBe("srv-b");
    const killed = await waitFor(
      "the routed kill to end the agent",
      async () => {
        const seen = await command(nc, "srv-a", "get", { agentId: agent.id });
        return seen.status === "killed" && seen;
      },
      20_000,
      NATS_WAIT,
    );
    expect(killed.endedAt).not.toBeNull();
    await expect(command(nc, "srv-a", "get", { agentId: "no-such-agent" })).rejects.toMatchObject({
      body: { code: "NOT_FOUND" },
    });
  });

  it("takes over a key whose claimer died unrecorded only once its server is back as a newer instance", async () => {
    const keys = await nc.jetstream().views.kv(registryBuckets("ZEROPLANE").keys, { bindOnly: true });
    const claim = (key: string, serverId: string) =>
      keys.create(
        idempotencyKeyName(key),
        new TextEncoder().encode(
          JSON.stringify({
            serverId,
            instance: "dead-instance",
            agentId: `never-started-${key}`,
            at: Date.now(),
          }),
        ),
      );
    // srv-a heartbeats with another instance: the dead one's spool is published, so nothing started.
    await claim("orphan-1", "srv-a");
    const taken = await command(nc, "srv-b", "spawn", { ...sleeper, idempotencyKey: "orphan-1" });
    expect(taken.id).not.toBe("never-started-orphan-1");
    expect(taken.serverId).toBe("srv-b");
    const again = await command(nc, "srv-a", "spawn", { ...sleeper, idempotencyKey: "orphan-1" });
    expect(again.id).toBe(taken.id);
    // A server that is gone may still hold the record in its spool: refuse rather than start twice.
    await claim("orphan-2", "srv-gone");
    const refused = await command(nc, "srv-b", "spawn", { ...sleeper, idempotencyKey: "orphan-2" }).catch(
      (error: CommandError) => error,
    );
    expect(refused).toBeInstanceOf(CommandError);
    expect((refused as CommandError).body).toMatchObject({ code: "UNAVAILABLE", retryable: true });
    expect((refused as CommandError).body.message).toMatch(/claimed by server srv-gone/);
  });

  // How soon (3 heartbeats, docs/events.md) is measured in bench/registry.bench.ts, not asserted here.
  it("reads a SIGKILLed server's agents as lost on the survivor", async () => {
    const agents = await Promise.all(
      Array.from({ length: 4 }, () => command(nc, "srv-b", "spawn", { ...sleeper, labels: { t: "lost" } })),
    );
    // Wait for the records of their start (with pids): a SIGKILL loses what srv-b had not yet published.
    await waitFor(
      "srv-a to see srv-b's agents running",
      async () => {
        const page = await command(nc, "srv-a", "list", { labels: { t: "lost" } });
        return page.total === 4 && page.agents.every((agent) => agent.status === "running" && agent.pid);
      },
      20_000,
      NATS_WAIT,
    );
    b.kill("SIGKILL");
    await b.exited;
    const lost = await waitFor(
      "srv-b's agents to read lost on srv-a",
      async () => {
        const page = await command(nc, "srv-a", "list", { labels: { t: "lost" } });
        return page.agents.every((agent) => agent.status === "lost") && page;
      },
      20_000,
      NATS_WAIT,
    );
    expect(lost.agents.map((agent) => agent.id).sort()).toEqual(agents.map((agent) => agent.id).sort());
    const one = await command(nc, "srv-a", "get", { agentId: agents[0]!.id });
    expect(one).toMatchObject({ status: "lost", serverId: "srv-b", pid: agents[0]!.pid, command: "/bin/sh" });
    const refused = await command(nc, "srv-a", "control", { agentId: agents[0]!.id, action: "kill" }).catch(
      (error: CommandError) => error,
    );
    expect(refused).toBeInstanceOf(CommandError);
    expect((refused as CommandError).body.code).toBe("INVALID_STATE");
    expect((refused as CommandError).body.message).toMatch(/is lost: its server srv-b stopped heartbeating/);
  });
});

describe("the cluster registry while NATS is unreachable", () => {
  let server: AgentServer | undefined;
  let stateDir: string;

  afterAll(async () => {
    await server?.close();
    cleanup(stateDir);
  });

  it("refuses keyed spawns with UNAVAILABLE naming NATS, and still starts unkeyed ones", async () => {
    const stopped = await startNats();
    const urls = stopped.urls;
    await stopped.stop();
    stateDir = tempDir("zeroplane-registry-down-");
    const config = loadConfig({
      env: {},
      overrides: {
        server: { id: "srv-down", bind: "tcp://127.0.0.1:*", publishBind: "tcp://127.0.0.1:*" },
        security: { curve: false },
        http: { host: "127.0.0.1", port: 0 },
        runner: { stateDir, mode: "inline" },
        nats: { enabled: true, urls, reconnectWaitMs: 250 },
      },
    });
    server = await startServer(config, { logger: pino({ level: "silent" }) });
    const refused = await server
      .handler("spawn", { ...sleeper, idempotencyKey: "k1" })
      .catch((error) => error);
    expect(refused).toBeInstanceOf(ProtocolError);
    expect(refused).toMatchObject({ code: "UNAVAILABLE", retryable: true });
    expect((refused as ProtocolError).message).toContain(`on NATS ${urls[0]}`);
    const unkeyed = await server.handler("spawn", sleeper);
    expect(unkeyed.status).toBe("running");
    await server.handler("control", { agentId: unkeyed.id, action: "kill" });
  });
});
