/**
 * NATS authentication and client TLS, end to end: a real nats-server runs the generated nats.conf
 * (with the variables the NATS pod gets from the auth Secret), and the agent server's NATS settings
 * come from nothing but the Deployment's environment, read by the runtime's own `loadConfig` and
 * `connectionOptions`. The test only moves the Secret mounts into a temp folder and the host onto
 * loopback.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_PATHS, ENV_VARS, loadConfig } from "../../runtime/config/index.js";
import { connectionOptions } from "../../runtime/events/connection.js";
import { NATS_CA_DIR } from "../../constructs/agent-server.js";
import { NATS_AUTH_SECRET_KEYS, NATS_PATHS, NATS_TLS_SECRET_KEYS } from "../../constructs/nats-config.js";
import { startNatsWithConfig, type ConfiguredNats } from "../support/nats.js";
import { containerEnv, type ContainerEnvVar } from "../support/pod-env.js";
import { freePorts } from "../support/ports.js";
import { makeTlsSecretDir } from "../support/tls.js";
import { find, minimalSpec, synth, type K8sObject } from "./fixtures.js";

const AUTH_SECRET = "zp-nats-auth";
const TLS_SECRET = "zp-nats-client-tls";
/** What the operator puts into the auth Secret (letters and digits only, see docs/stacks.md). */
const SECRET_VALUES = { user: "zeroplane", password: "Qm7Tz2Lw9Kd4Hs8Vx3" };

const objects = synth(
  minimalSpec({
    nats: {
      replicas: 1,
      jetstream: false,
      exporter: false,
      auth: { secretName: AUTH_SECRET },
      tls: { client: { secretName: TLS_SECRET } },
    },
  }),
).objects;
const natsConf = find(objects, "ConfigMap", "zeroplane-nats-config").data!["nats.conf"]!;
const natsPod = find(objects, "StatefulSet", "zeroplane-nats").spec.template.spec;
const serverPod = find(objects, "Deployment", "zeroplane-default").spec.template.spec;

interface EnvEntry {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

function replaceExact(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`expected ${from} in:\n${text}`);
  return text.replaceAll(from, to);
}

describe("an agent server reaching NATS with authentication and client TLS", () => {
  const root = mkdtempSync(join(tmpdir(), "zeroplane-nats-wiring-"));
  /** The Secrets as the kubelet would mount them. */
  const mounts = { tls: join(root, "tls"), credentials: join(root, "credentials"), ca: join(root, "ca") };
  let server: ConfiguredNats;
  let port = 0;
  const connections: NatsConnection[] = [];
  const savedEnv = { ...process.env };

  /** The Deployment's ZEROPLANE_NATS_* variables, with mount paths moved into the temp folder. */
  function agentServerNatsEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const entry of serverPod.containers[0].env as EnvEntry[]) {
      if (!entry.name.startsWith("ZEROPLANE_NATS_") || entry.value === undefined) continue;
      env[entry.name] = entry.value
        // The CA directory first: the credentials directory is a prefix of it.
        .replace(NATS_CA_DIR, mounts.ca)
        .replace(`${DEFAULT_PATHS.natsCredentialsDir}/`, `${mounts.credentials}/`)
        .replace(/^(\w+):\/\/[^:/]+:4222$/, `$1://localhost:${port}`);
    }
    return env;
  }

  beforeAll(async () => {
    makeTlsSecretDir(mounts.tls, "zeroplane-nats");
    // The agent server's volumes: the auth Secret's items and the CA item of the TLS Secret.
    mkdirSync(mounts.credentials);
    mkdirSync(mounts.ca);
    const volumes = serverPod.volumes as K8sObject["spec"][];
    const credentials = volumes.find((v: { name: string }) => v.name === "nats-credentials");
    expect(credentials.secret.secretName).toBe(AUTH_SECRET);
    for (const item of credentials.secret.items as { key: string; path: string }[]) {
      const key = item.key as keyof typeof SECRET_VALUES;
      writeFileSync(join(mounts.credentials, item.path), `${SECRET_VALUES[key]}\n`);
    }
    const ca = volumes.find((v: { name: string }) => v.name === "nats-ca");
    expect(ca.secret.secretName).toBe(TLS_SECRET);
    for (const item of ca.secret.items as { key: string; path: string }[]) {
      copyFileSync(join(mounts.tls, item.key), join(mounts.ca, item.path));
    }

    // The NATS pod's environment as the kubelet builds it: user and password from the auth Secret's keys.
    Object.assign(
      process.env,
      containerEnv(natsPod.containers[0].env as ContainerEnvVar[], {
        podName: "zeroplane-nats-0",
        secrets: { [AUTH_SECRET]: SECRET_VALUES },
      }),
    );
    const [client, monitor] = await freePorts(2);
    port = client!;
    let text = replaceExact(natsConf, 'listen: "0.0.0.0:4222"', `listen: "127.0.0.1:${port}"`);
    text = replaceExact(text, 'http: "0.0.0.0:8222"', `http: "127.0.0.1:${monitor}"`);
    text = replaceExact(text, NATS_PATHS.pidFile, "{{TMP}}/nats.pid");
    text = replaceExact(text, NATS_PATHS.clientTlsDir, mounts.tls);
    server = await startNatsWithConfig(text, { port, monitorPort: monitor });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(connections.map((connection) => connection.close().catch(() => undefined)));
    await server?.stop();
    process.env = savedEnv;
    rmSync(root, { recursive: true, force: true });
  });

  it("renders a nats.conf that requires a user and password and serves TLS", () => {
    expect(natsConf).toMatch(/^authorization \{$/m);
    expect(natsConf).toMatch(/^tls \{$/m);
  });

  it("gives the agent server a tls:// URL, the CA file and the credential files", () => {
    const env = agentServerNatsEnv();
    expect(env[ENV_VARS["nats.urls"]]).toBe(`tls://localhost:${port}`);
    expect(env[ENV_VARS["nats.tlsCaFile"]]).toBe(join(mounts.ca, NATS_TLS_SECRET_KEYS.ca));
    expect(env[ENV_VARS["nats.userFile"]]).toBe(join(mounts.credentials, NATS_AUTH_SECRET_KEYS.user));
    expect(env[ENV_VARS["nats.passwordFile"]]).toBe(join(mounts.credentials, NATS_AUTH_SECRET_KEYS.password));
  });

  it("connects over TLS with the mounted credentials, through the runtime's own config loader", async () => {
    const config = loadConfig({ env: agentServerNatsEnv() });
    const connection = await connect({
      ...connectionOptions(config.nats, "wiring-test"),
      waitOnFirstConnect: false,
      maxReconnectAttempts: 0,
    });
    connections.push(connection);
    expect(connection.info?.tls_required).toBe(true);
    expect(connection.info?.auth_required).toBe(true);
    await connection.flush();
  });

  it("is refused without the credentials, and without TLS", async () => {
    const config = loadConfig({ env: agentServerNatsEnv() });
    const { authenticator: _withoutAuth, ...anonymous } = connectionOptions(config.nats, "anonymous");
    await expect(connect({ ...anonymous, waitOnFirstConnect: false, reconnect: false })).rejects.toThrow(
      /authorization/i,
    );
    const plain = loadConfig({
      env: { ...agentServerNatsEnv(), [ENV_VARS["nats.urls"]]: `nats://localhost:${port}` },
    });
    const { tls: _withoutTls, ...plaintext } = connectionOptions(plain.nats, "plaintext");
    await expect(connect({ ...plaintext, waitOnFirstConnect: false, reconnect: false })).rejects.toThrow();
  });
});
