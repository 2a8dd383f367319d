/**
 * End to end through real agent servers (real runner, real validated handler): NATS command intake in a
 * queue group, replies with the protocol envelope (errors included), and lifecycle events of real agents
 * arriving on JetStream, also across a NATS outage.
 */
import { decode, encode } from "@msgpack/msgpack";
import type { NatsConnection } from "nats";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../runtime/config/index.js";
import type { AgentInfo, HealthResult, ReplyEnvelope } from "../../../runtime/protocol/index.js";
import { startServer, type AgentServer } from "../../../runtime/server/index.js";
import { startNats, type NatsCluster } from "../../support/nats.js";
import { cleanup, natsClient, readStream, tempDir, waitFor, NATS_WAIT } from "./helpers.js";

type Reply = ReplyEnvelope & {
  result?: unknown;
  error?: { code: string; message: string; retryable: boolean };
};

describe("the agent server over NATS", () => {
  let nats: NatsCluster;
  let client: NatsConnection;
  const servers: AgentServer[] = [];
  const dirs: string[] = [];

  async function startAgentServer(serverId: string): Promise<AgentServer> {
    const stateDir = tempDir("zeroplane-e2e-");
    dirs.push(stateDir);
    const config = loadConfig({
      env: {},
      overrides: {
        server: { id: serverId, bind: "tcp://127.0.0.1:*", publishBind: "tcp://127.0.0.1:*" },
        security: { curve: false },
        http: { host: "127.0.0.1", port: 0 },
        runner: { stateDir, stopGraceMs: 2000 },
        nats: { enabled: true, required: true, commands: true, urls: nats.urls, reconnectWaitMs: 250 },
      },
    });
    const server = await startServer(config, { logger: pino({ level: "silent" }) });
    servers.push(server);
    return server;
  }

  async function request(
    subject: string,
    body: unknown,
    encoding: "msgpack" | "json" = "msgpack",
  ): Promise<Reply> {
    const data = encoding === "json" ? new TextEncoder().encode(JSON.stringify(body)) : encode(body);
    const reply = await client.request(subject, data, { timeout: 10_000 });
    return (encoding === "json" ? reply.json() : decode(reply.data)) as Reply;
  }

  beforeAll(async () => {
    nats = await startNats();
    client = await natsClient(nats.urls);
    await startAgentServer("srv-a");
    await startAgentServer("srv-b");
    await waitFor(
      "both servers to be ready",
      () => servers.every((server) => server.ready()),
      30_000,
      NATS_WAIT,
    );
  });

  afterAll(async () => {
    for (const server of servers) await server.shutdown();
    await client.close();
    await nats.stop();
    for (const dir of dirs) cleanup(dir);
  });

  it("shares commands between the servers of the queue group, each answered once", async () => {
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        request("agent.commands.health", { v: 1, id: `h${i}`, params: {} }),
      ),
    );
    expect(replies.every((reply) => reply.ok)).toBe(true);
    expect(replies.map((reply) => reply.id)).toEqual(Array.from({ length: 40 }, (_, i) => `h${i}`));
    const byServer = new Set(replies.map((reply) => (reply.result as HealthResult).serverId));
    expect([...byServer].sort()).toEqual(["srv-a", "srv-b"]);
  });

  it("replies with the error envelope for bad params, unknown methods, bad versions and bad bodies", async () => {
    const badParams = await request("agent.commands.spawn", { v: 1, id: "s1", params: { args: ["x"] } });
    expect(badParams).toMatchObject({
      v: 1,
      id: "s1",
      ok: false,
      error: { code: "BAD_REQUEST", retryable: false },
    });
    expect(badParams.error?.message).toMatch(/params\.command/);

    const unknown = await request("agent.commands.launch", { v: 1, id: "u1", params: {} });
    expect(unknown).toMatchObject({ id: "u1", ok: false, error: { code: "UNKNOWN_METHOD" } });

    const version = await request("agent.commands.health", { v: 99, id: "v1", params: {} });
    expect(version).toMatchObject({ id: "v1", ok: false, error: { code: "UNSUPPORTED_VERSION" } });

    const mismatch = await request("agent.commands.health", { v: 1, id: "m1", method: "list", params: {} });
    expect(mismatch).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });

    const garbage = decode(
      (await client.request("agent.commands.health", new Uint8Array([0xc1]), { timeout: 10_000 })).data,
    );
    expect(garbage).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
  });

  it("answers JSON requests in JSON", async () => {
    const reply = await request("agent.commands.health", { v: 1, id: "j1", params: {} }, "json");
    expect(reply).toMatchObject({ v: 1, id: "j1", ok: true, result: { healthy: true } });
  });

  it("spawns through NATS and publishes the agent's lifecycle to JetStream, in order", async () => {
    const reply = await request("agent.commands.spawn", {
      v: 1,
      id: "sp1",
      params: { command: "/bin/sh", args: ["-c", "exit 0"], labels: { test: "e2e" } },
    });
    expect(reply.ok).toBe(true);
    const agent = reply.result as AgentInfo;
    await waitFor(
      "the agent's exit to be published",
      async () => {
        const stored = await readStream(client, "AGENT_EVENTS");
        return stored.some((s) => s.event.agentId === agent.id && s.event.type === "exited");
      },
      30_000,
      NATS_WAIT,
    );
    const mine = (await readStream(client, "AGENT_EVENTS")).filter((s) => s.event.agentId === agent.id);
    expect(mine[0]?.subject).toBe(`agent.events.${agent.serverId}.${agent.id}.spawned`);
    expect(mine.map((s) => s.event.seq)).toEqual(mine.map((_, i) => i + 1));
    expect(mine.map((s) => s.msgId)).toEqual(mine.map((_, i) => `${agent.serverId}.${agent.id}.${i + 1}`));
    expect(mine.at(-1)?.subject).toBe(`agent.events.${agent.serverId}.${agent.id}.exited`);

    // Addressed commands reach the server that owns the agent.
    const owner = await request(`agent.commands.${agent.serverId}.get`, {
      v: 1,
      id: "g1",
      params: { agentId: agent.id },
    });
    expect(owner).toMatchObject({ ok: true, result: { id: agent.id } });
    const other = agent.serverId === "srv-a" ? "srv-b" : "srv-a";
    const elsewhere = await request(`agent.commands.${other}.get`, {
      v: 1,
      id: "g2",
      params: { agentId: agent.id },
    });
    // With the cluster registry (nats.registry, on by default) the other server answers for the owner.
    expect(elsewhere).toMatchObject({ ok: true, result: { id: agent.id, serverId: agent.serverId } });
  });

  it("keeps the lifecycle of agents spawned while NATS is down and publishes it when NATS is back", async () => {
    const server = servers[0]!;
    await nats.nodes[0]!.stop();
    await waitFor("readiness to reflect the outage", () => !server.ready(), 30_000, NATS_WAIT);
    const agents: AgentInfo[] = [];
    for (let i = 0; i < 20; i++) {
      agents.push(await server.handler("spawn", { command: "/bin/sh", args: ["-c", "exit 0"] }));
    }
    await waitFor(
      "the agents to exit",
      async () => {
        const now = await Promise.all(agents.map((agent) => server.handler("get", { agentId: agent.id })));
        return now.every((agent) => agent.status === "exited");
      },
      30_000,
      NATS_WAIT,
    );
    expect(server.ready()).toBe(false);
    await nats.nodes[0]!.restart();
    await waitFor("readiness to come back", () => server.ready(), 30_000, NATS_WAIT);
    await waitFor(
      "every exit to be published",
      async () => {
        const stored = await readStream(client, "AGENT_EVENTS");
        return agents.every((agent) =>
          stored.some((s) => s.event.agentId === agent.id && s.event.type === "exited"),
        );
      },
      30_000,
      NATS_WAIT,
    );
    const stored = await readStream(client, "AGENT_EVENTS");
    for (const agent of agents) {
      const mine = stored.filter((s) => s.event.agentId === agent.id);
      expect(mine.map((s) => s.event.seq)).toEqual(mine.map((_, i) => i + 1));
      expect(mine[0]?.event.type).toBe("spawned");
    }
  });
});
