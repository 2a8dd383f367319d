import { promises as dns } from "node:dns";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { ZeroplaneClient, type ClientOptions } from "../../../runtime/client/index.js";
import type { AgentInfo } from "../../../runtime/protocol/index.js";
import { startDnsServer } from "./support/dns-server.js";
import { poolPerTest, serverSpecs, waitUntil, type TestServerSpec } from "./support/servers.js";

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

/** A port P with P and P + 1 free on every host (dns:// servers share one port on different addresses). */
async function sharedPortPair(hosts: readonly string[]): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    const checks = await Promise.all(
      hosts.flatMap((host) => [canListen(host, port), canListen(host, port + 1)]),
    );
    if (checks.every(Boolean)) return port;
  }
  throw new Error("no free port pair on all hosts");
}

const countBy = (agents: readonly AgentInfo[]) =>
  agents.reduce<Record<string, number>>(
    (acc, a) => ({ ...acc, [a.serverId]: (acc[a.serverId] ?? 0) + 1 }),
    {},
  );

describe("client with several servers", () => {
  const { pool, clients } = poolPerTest();

  async function cluster(count: number): Promise<TestServerSpec[]> {
    const specs = await serverSpecs(count);
    await Promise.all(specs.map((spec) => pool.start(spec)));
    return specs;
  }

  async function connect(specs: readonly TestServerSpec[], options: Partial<ClientOptions> = {}) {
    const client = await ZeroplaneClient.connect({
      endpoints: specs.map((s) => s.endpoint),
      publishEndpoints: specs.map((s) => s.publishEndpoint),
      timeoutMs: 30_000,
      ...options,
    });
    clients.push(client);
    await client.waitForServers({ timeoutMs: 20_000 });
    return client;
  }

  it("places spawns in turn with round-robin and by load with least-loaded", async () => {
    const specs = await cluster(3);
    const roundRobin = await connect(specs, { placement: "round-robin" });
    const even = [];
    for (let i = 0; i < 9; i++)
      even.push(await roundRobin.spawn({ command: "sleep", args: ["30"], labels: { p: "rr" } }));
    expect(Object.values(countBy(even))).toEqual([3, 3, 3]);

    // srv-1 now runs 3 more agents than it did; least-loaded learns that from health and avoids it.
    const extra = [];
    for (let i = 0; i < 3; i++)
      extra.push(await roundRobin.spawn({ command: "sleep", args: ["30"], labels: { p: "rr" } }));
    const byLoad = await connect(specs, { placement: "least-loaded", healthRefreshMs: 200 });
    await waitUntil(() => byLoad.servers().every((s) => s.load !== null), 15_000, "load of every server");
    await byLoad.kill(extra[0]!.id); // One server now has fewer active agents than the others.
    await waitUntil(
      () => new Set(byLoad.servers().map((s) => s.load)).size > 1,
      15_000,
      "the load difference to show in health",
    );
    const placed = await byLoad.spawn({ command: "sleep", args: ["30"], labels: { p: "ll" } });
    expect(placed.serverId).toBe(extra[0]!.serverId);

    const running = await byLoad.listAll({ status: ["running"] });
    await byLoad.batchControl({ agentIds: running.agents.map((a) => a.id), action: "kill" });
  });

  it("sends calls about an agent to the server that owns it, even from a client that never saw it", async () => {
    const specs = await cluster(3);
    const spawner = await connect(specs, { placement: "round-robin" });
    const agents = await Promise.all([0, 1, 2].map(() => spawner.spawn({ command: "sleep", args: ["30"] })));
    expect(new Set(agents.map((a) => a.serverId)).size).toBe(3);

    const other = await connect(specs);
    for (const agent of agents) {
      expect((await other.get(agent.id)).serverId).toBe(agent.serverId);
      expect((await other.pause(agent.id)).status).toBe("paused");
    }
    const result = await other.batchControl({
      agentIds: [...agents.map((a) => a.id), "missing"],
      action: "kill",
    });
    expect(result.results.map((r) => [r.agentId, r.ok])).toEqual([
      ...agents.map((a) => [a.id, true]),
      ["missing", false],
    ]);
    expect(result.results[3]!.error?.code).toBe("NOT_FOUND");
    await expect(other.get("missing")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("lists across servers and pages through all of them with one cursor", async () => {
    const specs = await cluster(2);
    const client = await connect(specs, { placement: "round-robin" });
    for (let i = 0; i < 6; i++) await client.spawn({ command: "true", labels: { l: "paged" } });
    const first = await client.list({ labels: { l: "paged" }, limit: 2 });
    expect(first.total).toBe(6);
    expect(first.agents).toHaveLength(4);
    const second = await client.list({ labels: { l: "paged" }, limit: 2, cursor: first.nextCursor! });
    expect(second.agents).toHaveLength(2);
    expect(second.nextCursor).toBeNull();
    const ids = [...first.agents, ...second.agents].map((a) => a.id);
    expect(new Set(ids).size).toBe(6);
  });

  it("with one of three servers down, spawns go to the other two and health names the missing one", async () => {
    const specs = await serverSpecs(3);
    const servers = await Promise.all(specs.map((spec) => pool.start(spec)));
    const client = await connect(specs, { placement: "round-robin", connectTimeoutMs: 2_000 });
    servers[1]!.kill("SIGKILL");
    await servers[1]!.exited;

    const agents = [];
    for (let i = 0; i < 8; i++) agents.push(await client.spawn({ command: "sleep", args: ["30"] }));
    const placed = countBy(agents);
    expect(Object.keys(placed).sort()).toEqual([specs[0]!.id, specs[2]!.id]);

    const health = await client.clusterHealth({ timeoutMs: 5_000 });
    expect(health.map((h) => [h.endpoint, h.ok])).toEqual(specs.map((s, i) => [s.endpoint, i !== 1]));
    const listed = await client.list({}, { timeoutMs: 5_000 });
    expect(listed.unreachable.map((u) => u.endpoint)).toEqual([specs[1]!.endpoint]);
    expect(listed.agents).toHaveLength(8);

    // A client that starts while the server is down never waits on it either.
    const fresh = await ZeroplaneClient.connect({
      endpoints: specs.map((s) => s.endpoint),
      placement: "round-robin",
      connectTimeoutMs: 2_000,
      timeoutMs: 30_000,
    });
    clients.push(fresh);
    const more = [];
    for (let i = 0; i < 4; i++) more.push(await fresh.spawn({ command: "sleep", args: ["30"] }));
    expect(Object.keys(countBy(more)).sort()).toEqual([specs[0]!.id, specs[2]!.id]);
    await client.batchControl({ agentIds: [...agents, ...more].map((a) => a.id), action: "kill" });
  });

  it("finds every server behind one dns:// name, as with a headless Service, and follows changes", async () => {
    const hosts = ["127.0.0.1", "127.0.0.2"];
    const port = await sharedPortPair(hosts);
    const [a, b] = await serverSpecs(2);
    const onHost = (spec: TestServerSpec, host: string): TestServerSpec => ({
      ...spec,
      config: {
        ...spec.config,
        server: {
          ...spec.config.server,
          bind: `tcp://${host}:${port}`,
          publishBind: `tcp://${host}:${port + 1}`,
        },
      },
    });
    await Promise.all([pool.start(onHost(a!, hosts[0]!)), pool.start(onHost(b!, hosts[1]!))]);
    // The Service starts with one ready pod; the second is added later.
    const dnsServer = await startDnsServer({ "zeroplane.agents.test": [hosts[0]!] });
    try {
      const resolver = new dns.Resolver({ timeout: 2_000, tries: 2 });
      resolver.setServers([dnsServer.address]);
      const client = await ZeroplaneClient.connect({
        endpoints: `dns://zeroplane.agents.test:${port}`,
        resolver,
        dnsRefreshMs: 200,
        placement: "round-robin",
        timeoutMs: 20_000,
      });
      clients.push(client);
      expect(client.servers().map((s) => s.endpoint)).toEqual([`tcp://${hosts[0]}:${port}`]);
      expect((await client.spawn({ command: "true" })).serverId).toBe(a!.id);

      dnsServer.setRecords("zeroplane.agents.test", hosts);
      await waitUntil(() => client.servers().length === 2, 15_000, "the second address to be picked up");
      expect(client.servers().map((s) => s.endpoint)).toEqual(hosts.map((h) => `tcp://${h}:${port}`));
      await client.waitForServers({ timeoutMs: 15_000 });
      const agents = [];
      for (let i = 0; i < 4; i++) agents.push(await client.spawn({ command: "true" }));
      expect(countBy(agents)).toEqual({ [a!.id]: 2, [b!.id]: 2 });
    } finally {
      await dnsServer.close();
    }
  });
});
