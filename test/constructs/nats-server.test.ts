/**
 * The generated nats.conf, proven with the real nats-server: `nats-server -t` accepts it for every
 * example environment (with the environment variables a pod would have), and a 3-node cluster started
 * on loopback from the generated configs forms its routes, elects a JetStream meta leader and serves
 * an R3 stream. The test only remaps ports, hosts and directories.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { connect, StringCodec, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { jetstreamLimits } from "../../constructs/nats-cluster.js";
import { NATS_PATHS } from "../../constructs/nats-config.js";
import { ENV_VARS, loadConfig } from "../../runtime/config/index.js";
import { ensureStream } from "../../runtime/events/stream.js";
import { startNatsWithConfig, type ConfiguredNats } from "../support/nats.js";
import { freePorts } from "../support/ports.js";
import { makeTlsSecretDir } from "../support/tls.js";
import { ensureNatsServer } from "../support/system-tools.js";
import { waitFor, type WaitOptions } from "../support/wait.js";
import { exampleSpec, find, minimalSpec, synth } from "./fixtures.js";

const POD_ENV = { NATS_USER: "zeroplane", NATS_PASSWORD: "Sx7d9Qw2Lp4Zr8Tv" };

function natsConf(env: "dev" | "staging" | "prod"): string {
  return find(synth(exampleSpec(env)).objects, "ConfigMap", "zeroplane-nats-config").data!["nats.conf"]!;
}

/** Replaces `from` in `text`, failing when it is absent (so a format change cannot slip past the test). */
function replaceExact(
  text: string,
  from: string | RegExp,
  to: string | ((...match: string[]) => string),
): string {
  const found = typeof from === "string" ? text.includes(from) : from.test(text);
  if (!found) throw new Error(`expected ${String(from)} in the generated config:\n${text}`);
  // String.replace's overloads do not accept a union of replacer types.
  return typeof to === "string"
    ? text.replaceAll(from as string, to)
    : text.replace(from as RegExp, to as never);
}

interface NodePorts {
  readonly client: number;
  readonly cluster: number;
  readonly monitor: number;
}

/** The config as pod `index` would run it, moved onto loopback ports and temp directories. */
function remap(
  conf: string,
  index: number,
  nodes: readonly NodePorts[],
  dirs: { certs?: string } = {},
): string {
  const self = nodes[index]!;
  let text = replaceExact(conf, "server_name: $POD_NAME", `server_name: "zeroplane-nats-${index}"`);
  text = replaceExact(text, 'listen: "0.0.0.0:4222"', `listen: "127.0.0.1:${self.client}"`);
  text = replaceExact(text, 'http: "0.0.0.0:8222"', `http: "127.0.0.1:${self.monitor}"`);
  text = replaceExact(text, `pid_file: "${NATS_PATHS.pidFile}"`, 'pid_file: "{{TMP}}/nats.pid"');
  if (text.includes("jetstream {")) {
    text = replaceExact(text, `store_dir: "${NATS_PATHS.dataDir}"`, 'store_dir: "{{TMP}}/data"');
  }
  if (nodes.length > 1) {
    text = replaceExact(text, 'listen: "0.0.0.0:6222"', `listen: "127.0.0.1:${self.cluster}"`);
    text = replaceExact(
      text,
      /"nats:\/\/zeroplane-nats-(\d+)\.zeroplane-nats-headless\.[a-z0-9-]+\.svc\.cluster\.local:6222"/g,
      (_match, ordinal) => `"nats://127.0.0.1:${nodes[Number(ordinal)]!.cluster}"`,
    );
  }
  if (dirs.certs) text = text.replaceAll("/etc/nats-certs", dirs.certs);
  return text;
}

/** The client and cluster TLS Secrets, as `<dir>/client` and `<dir>/cluster`. */
function makeCerts(dir: string): void {
  for (const kind of ["client", "cluster"]) makeTlsSecretDir(join(dir, kind), "zeroplane-nats");
}

function testConfig(text: string, env: Record<string, string>): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "zeroplane-natsconf-"));
  try {
    const file = join(dir, "nats.conf");
    writeFileSync(file, text.replaceAll("{{TMP}}", dir));
    const result = spawnSync(ensureNatsServer(), ["-t", "-c", file], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("nats-server -t on the generated nats.conf", () => {
  const certs = mkdtempSync(join(tmpdir(), "zeroplane-natscerts-"));
  beforeAll(() => makeCerts(certs));
  afterAll(() => rmSync(certs, { recursive: true, force: true }));
  const podEnv = { POD_NAME: "zeroplane-nats-0", ...POD_ENV };

  it.each(["dev", "staging", "prod"] as const)("accepts the %s config with the pod's environment", (env) => {
    const conf = natsConf(env);
    // Only the directories move; ports and hosts stay as generated.
    const text = conf
      .replaceAll(NATS_PATHS.pidFile, "{{TMP}}/nats.pid")
      .replaceAll(`store_dir: "${NATS_PATHS.dataDir}"`, 'store_dir: "{{TMP}}/data"')
      .replaceAll("/etc/nats-certs", certs);
    const result = testConfig(text, podEnv);
    expect(result.output).toMatch(/configuration file .* is valid/);
    expect(result.status).toBe(0);
  });

  it("accepts a config with leaf node remotes and gateways", () => {
    const spec = minimalSpec({
      nats: {
        replicas: 3,
        leafnodeRemotes: [
          { url: "nats-leaf://hub.example.internal:7422", credentialsSecret: "hub", account: "$G" },
        ],
        gateways: [{ name: "eu-west-1", urls: ["nats://nats-gw.eu-west-1.example.internal:7222"] }],
        remoteCidrs: ["10.30.0.0/16"],
      },
    });
    const conf = find(synth(spec).objects, "ConfigMap", "zeroplane-nats-config").data!["nats.conf"]!;
    const creds = join(certs, "remote-0");
    execFileSync("mkdir", ["-p", creds]);
    writeFileSync(join(creds, "creds"), "");
    const text = conf
      .replaceAll(NATS_PATHS.pidFile, "{{TMP}}/nats.pid")
      .replaceAll(`store_dir: "${NATS_PATHS.dataDir}"`, 'store_dir: "{{TMP}}/data"')
      .replaceAll(NATS_PATHS.leafnodeCredentialsDir, certs);
    expect(text).toContain("gateway {");
    const result = testConfig(text, podEnv);
    expect(result.output).toMatch(/is valid/);
    expect(result.status).toBe(0);
  });

  it("refuses the config when the pod's environment lacks the variables it references", () => {
    const result = testConfig(natsConf("staging"), { POD_NAME: "zeroplane-nats-0" });
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/NATS_USER|NATS_PASSWORD/);
  });

  it("refuses a broken config (the check is real)", () => {
    const result = testConfig(`${natsConf("dev")}\ncluster {\n`, podEnv);
    expect(result.status).not.toBe(0);
  });
});

/** The monitor port answers once the server is up; until then a request fails and is retried. */
const MONITOR_WAIT: WaitOptions = { intervalMs: 200, retryErrors: true };

async function monitorJson(port: number, path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000) });
  return (await response.json()) as Record<string, unknown>;
}

/** Waits until a server has routes to both of its peers. */
async function waitForRoutes(node: NodePorts): Promise<void> {
  await waitFor(
    `routes on ${node.monitor}`,
    async () => ((await monitorJson(node.monitor, "/routez")).num_routes as number) >= 2,
    45_000,
    MONITOR_WAIT,
  );
}

/**
 * Three nats-servers running one environment's generated config, on free loopback ports. The pods
 * get POD_ENV from the Secret; nats-server reads it from its environment.
 */
async function startThreeNodes(
  environment: "staging" | "prod",
  dirs: { certs?: string } = {},
): Promise<{ nodes: NodePorts[]; servers: ConfiguredNats[] }> {
  Object.assign(process.env, POD_ENV);
  const free = await freePorts(9);
  const nodes = [0, 1, 2].map((i) => ({
    client: free[i * 3]!,
    cluster: free[i * 3 + 1]!,
    monitor: free[i * 3 + 2]!,
  }));
  const conf = natsConf(environment);
  // All three start together: each waits for its peers before JetStream reports healthy.
  const servers = await Promise.all(
    nodes.map((node, index) =>
      startNatsWithConfig(remap(conf, index, nodes, dirs), { port: node.client, monitorPort: node.monitor }),
    ),
  );
  return { nodes, servers };
}

describe("a 3-node cluster from the generated staging configs", () => {
  let servers: ConfiguredNats[] = [];
  let nodes: NodePorts[] = [];
  const connections: NatsConnection[] = [];
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    ({ nodes, servers } = await startThreeNodes("staging"));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(connections.map((connection) => connection.close().catch(() => undefined)));
    await Promise.all(servers.map((server) => server.stop()));
    process.env = savedEnv;
  });

  it("forms routes between all three servers", async () => {
    for (const node of nodes) {
      await waitForRoutes(node);
    }
  });

  it("elects one JetStream meta leader that every server agrees on", async () => {
    const leaders = await Promise.all(
      nodes.map((node) =>
        waitFor(
          `meta leader on ${node.monitor}`,
          async () => {
            const jsz = await monitorJson(node.monitor, "/jsz");
            const meta = jsz.meta_cluster as { leader?: string; cluster_size?: number } | undefined;
            return meta?.leader && meta.cluster_size === 3 ? meta.leader : undefined;
          },
          45_000,
          MONITOR_WAIT,
        ),
      ),
    );
    expect(new Set(leaders).size).toBe(1);
    expect(leaders[0]).toMatch(/^zeroplane-nats-[012]$/);
  });

  it("answers the probe paths the StatefulSet uses", async () => {
    for (const node of nodes) {
      for (const path of ["/healthz", "/healthz?js-server-only=true", "/healthz?js-enabled-only=true"]) {
        const status = await waitFor(
          `${path} on ${node.monitor}`,
          async () => {
            const response = await fetch(`http://127.0.0.1:${node.monitor}${path}`);
            return response.ok ? response.status : undefined;
          },
          45_000,
          MONITOR_WAIT,
        );
        expect(status).toBe(200);
      }
    }
  });

  it("refuses clients without the credentials from the Secret", async () => {
    await expect(
      connect({ servers: `nats://127.0.0.1:${nodes[0]!.client}`, reconnect: false }),
    ).rejects.toThrow(/Authorization/i);
  });

  it("serves an R3 stream: publish on one server, read the replicated messages on another", async () => {
    const auth = { user: POD_ENV.NATS_USER, pass: POD_ENV.NATS_PASSWORD };
    const first = await connect({ servers: `nats://127.0.0.1:${nodes[0]!.client}`, ...auth });
    const third = await connect({ servers: `nats://127.0.0.1:${nodes[2]!.client}`, ...auth });
    connections.push(first, third);
    const jsm = await first.jetstreamManager();
    await waitFor(
      "stream creation",
      async () => {
        await jsm.streams.add({ name: "PROOF", subjects: ["proof.>"], num_replicas: 3 });
        return true;
      },
      45_000,
      MONITOR_WAIT,
    );
    const sc = StringCodec();
    const js = first.jetstream();
    for (let i = 0; i < 10; i++) await js.publish(`proof.${i}`, sc.encode(`message ${i}`));

    const info = await waitFor(
      "all replicas current",
      async () => {
        const current = await jsm.streams.info("PROOF");
        const replicas = current.cluster?.replicas ?? [];
        return replicas.length === 2 && replicas.every((replica) => replica.current) ? current : undefined;
      },
      45_000,
      MONITOR_WAIT,
    );
    expect(info.config.num_replicas).toBe(3);
    expect(info.state.messages).toBe(10);
    expect([info.cluster?.leader, ...(info.cluster?.replicas ?? []).map((r) => r.name)].sort()).toEqual([
      "zeroplane-nats-0",
      "zeroplane-nats-1",
      "zeroplane-nats-2",
    ]);

    const remote = await (await third.jetstreamManager()).streams.getMessage("PROOF", { seq: 10 });
    expect(sc.decode(remote.data)).toBe("message 9");
  });

  it("limits each server's JetStream store to the generated max_file_store, below its 10Gi volume", async () => {
    const { maxFileStoreBytes } = jetstreamLimits(10 * 1024 ** 3);
    for (const node of nodes) {
      const jsz = await monitorJson(node.monitor, "/jsz");
      expect((jsz.config as { max_storage: number }).max_storage).toBe(maxFileStoreBytes);
    }
    expect(maxFileStoreBytes).toBeLessThan(10 * 1024 ** 3);
  });

  it("creates the lifecycle stream with the agent servers' byte limit, and refuses one above the store", async () => {
    const auth = { user: POD_ENV.NATS_USER, pass: POD_ENV.NATS_PASSWORD };
    const connection = await connect({ servers: `nats://127.0.0.1:${nodes[1]!.client}`, ...auth });
    connections.push(connection);
    const jsm = await connection.jetstreamManager();
    // The agent server's own config, from the environment the construct gives it.
    const server = find(synth(exampleSpec("staging")).objects, "Deployment", "zeroplane-default").spec
      .template.spec.containers[0];
    const env = Object.fromEntries(
      (server.env as { name: string; value?: string }[])
        .filter((e) => e.name === ENV_VARS["nats.maxBytes"] || e.name === ENV_VARS["nats.replicas"])
        .map((e) => [e.name, e.value!]),
    );
    const nats = loadConfig({ env }).nats;
    expect(nats.maxBytes).toBe(jetstreamLimits(10 * 1024 ** 3).streamMaxBytes);
    await ensureStream(jsm, nats, pino({ level: "silent" }));
    const info = await jsm.streams.info(nats.stream);
    expect(info.config.max_bytes).toBe(nats.maxBytes);
    expect(info.config.num_replicas).toBe(3);
    expect(info.config.discard).toBe("old");

    // Why the limit must sit below max_file_store: JetStream refuses a stream it could not hold.
    await expect(
      jsm.streams.add({
        name: "TOO_BIG",
        subjects: ["too-big.>"],
        num_replicas: 3,
        max_bytes: 10 * 1024 ** 3,
      }),
    ).rejects.toThrow(/no suitable peers for placement, insufficient/i);
  });

  it("keeps a byte-limited stream within its limit by discarding the oldest events", async () => {
    const auth = { user: POD_ENV.NATS_USER, pass: POD_ENV.NATS_PASSWORD };
    const connection = await connect({ servers: `nats://127.0.0.1:${nodes[0]!.client}`, ...auth });
    connections.push(connection);
    const limit = 64 * 1024;
    const nats = loadConfig({
      overrides: { nats: { stream: "LIMITED", subjectPrefix: "limited", replicas: 3, maxBytes: limit } },
    }).nats;
    await ensureStream(await connection.jetstreamManager(), nats, pino({ level: "silent" }));
    const js = connection.jetstream();
    const payload = new Uint8Array(2048);
    for (let i = 0; i < 100; i++) await js.publish("limited.x", payload);
    const info = await (await connection.jetstreamManager()).streams.info("LIMITED");
    expect(info.state.bytes).toBeLessThanOrEqual(limit);
    expect(info.state.first_seq).toBeGreaterThan(1);
    expect(info.state.last_seq).toBe(100);
  });

  it("enters lame duck mode on the preStop signal", async () => {
    const victim = servers[2]!;
    const pidFile = join(dirname(victim.configFile), "nats.pid");
    // The preStop hook's exact command, with the pid file moved like the rest of the paths.
    const preStop = find(synth(exampleSpec("staging")).objects, "StatefulSet", "zeroplane-nats").spec.template
      .spec.containers[0].lifecycle.preStop.exec.command as string[];
    const args = preStop.slice(1).map((arg) => arg.replace(NATS_PATHS.pidFile, pidFile));
    execFileSync(ensureNatsServer(), args);
    await waitFor(
      "lame duck log line",
      async () => (/lame duck/i.test(victim.process.log()) ? true : undefined),
      15_000,
      MONITOR_WAIT,
    );
  });
});

describe("a 3-node cluster from the generated prod configs (TLS on clients and routes)", () => {
  let servers: ConfiguredNats[] = [];
  let nodes: NodePorts[] = [];
  const certs = mkdtempSync(join(tmpdir(), "zeroplane-natscerts-prod-"));
  const connections: NatsConnection[] = [];
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    makeCerts(certs);
    ({ nodes, servers } = await startThreeNodes("prod", { certs }));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(connections.map((connection) => connection.close().catch(() => undefined)));
    await Promise.all(servers.map((server) => server.stop()));
    process.env = savedEnv;
    rmSync(certs, { recursive: true, force: true });
  });

  it("forms its routes over verified TLS", async () => {
    for (const node of nodes) {
      await waitForRoutes(node);
      const cluster = (await monitorJson(node.monitor, "/varz")).cluster as Record<string, unknown>;
      expect(cluster).toMatchObject({ tls_required: true, tls_verify: true });
    }
  });

  it("serves clients only over TLS and only with the credentials", async () => {
    const ca = readFileSync(join(certs, "client", "ca.crt"), "utf8");
    const auth = { user: POD_ENV.NATS_USER, pass: POD_ENV.NATS_PASSWORD };
    const secure = await connect({
      servers: `tls://localhost:${nodes[1]!.client}`,
      tls: { ca },
      reconnect: false,
      ...auth,
    });
    connections.push(secure);
    expect(secure.info?.tls_required).toBe(true);
    await secure.flush();
    await expect(
      connect({ servers: `tls://localhost:${nodes[1]!.client}`, tls: { ca }, reconnect: false }),
    ).rejects.toThrow(/authorization/i);
  });
});
