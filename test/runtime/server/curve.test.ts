import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../../runtime/config/index.js";
import { generateKeypair, writeKeypair, type CurveKeypair } from "../../../runtime/security/keys.js";
import { startServer } from "../../../runtime/server/index.js";
import { metricValue, startTestServer, testConfig, type TestServer } from "./harness.js";
import { StreamCollector, type CurveClientKeys } from "./wire-client.js";
import { waitFor } from "../../support/wait.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "zeroplane-curve-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Replaces the allowlist the way an editor or a Secret update would: write aside, then rename. */
function writeAllowlist(file: string, keys: string[]): void {
  writeFileSync(`${file}.tmp`, `# clients\n${keys.join("\n")}\n`);
  renameSync(`${file}.tmp`, file);
}

async function curveServer(
  allowed: CurveKeypair[],
): Promise<{ t: TestServer; server: CurveKeypair; allowlistFile: string }> {
  const dir = tempDir();
  const server = writeKeypair(join(dir, "curve"));
  const allowlistFile = join(dir, "allowlist.txt");
  writeAllowlist(
    allowlistFile,
    allowed.map((k) => k.publicKey),
  );
  const t = await startTestServer({
    security: { curve: true, secretKeyFile: server.secretKeyFile, allowlistFile },
  });
  cleanups.push(() => t.stop());
  return { t, server, allowlistFile };
}

function keysFor(server: CurveKeypair, client: CurveKeypair): CurveClientKeys {
  return { serverPublicKey: server.publicKey, publicKey: client.publicKey, secretKey: client.secretKey };
}

describe("CURVE and the ZAP allowlist", () => {
  it("serves an allowlisted client that uses the right server key", async () => {
    const alice = generateKeypair();
    const { t, server } = await curveServer([alice]);
    const health = await t.client(keysFor(server, alice)).request("health", {});
    expect(health.healthy).toBe(true);
  });

  it("gives no answer to a client using the wrong server key", async () => {
    const alice = generateKeypair();
    const { t } = await curveServer([alice]);
    const impostor = generateKeypair();
    const client = t.client(keysFor(impostor, alice));
    await expect(client.request("health", {}, 1_500)).rejects.toThrow(/no reply/);
    // The handshake fails cryptographically before ZAP is asked, so it is not an auth rejection.
    await waitFor(
      "a handshake failure",
      async () => metricValue(await t.metricsText(), "zeroplane_handshake_failures_total") > 0,
      10_000,
    );
    expect(
      metricValue(await t.metricsText(), "zeroplane_auth_rejections_total", { reason: "not-allowlisted" }),
    ).toBe(0);
  });

  it("refuses a client whose key is not in the allowlist, counts it and logs no key", async () => {
    const alice = generateKeypair();
    const mallory = generateKeypair();
    const { t, server } = await curveServer([alice]);
    await expect(t.client(keysFor(server, mallory)).request("health", {}, 1_500)).rejects.toThrow(/no reply/);
    // The refusal may land after the request timed out on a slow machine: wait for it.
    const aliceClient = t.client(keysFor(server, alice));
    await waitFor(
      "stats to count the refusal",
      async () => (await aliceClient.request("stats", {})).authRejections > 0,
      20_000,
    );
    expect(
      metricValue(await t.metricsText(), "zeroplane_auth_rejections_total", { reason: "not-allowlisted" }),
    ).toBeGreaterThan(0);
    const refusals = t.logLines.filter((line) => line.includes("client refused by ZAP"));
    expect(refusals.length).toBeGreaterThan(0);
    const logs = t.logLines.join("\n");
    for (const key of [
      mallory.publicKey,
      mallory.secretKey,
      alice.publicKey,
      server.secretKey,
      server.publicKey,
    ]) {
      expect(logs).not.toContain(key);
    }
  });

  it("admits a newly allowlisted client without a restart", async () => {
    const alice = generateKeypair();
    const bob = generateKeypair();
    const { t, server, allowlistFile } = await curveServer([alice]);
    const rejected = t.client(keysFor(server, bob));
    await expect(rejected.request("health", {}, 1_500)).rejects.toThrow(/no reply/);
    writeAllowlist(allowlistFile, [alice.publicKey, bob.publicKey]);
    // libzmq does not retry a connection that failed authentication, so each attempt uses a new
    // socket; once the reload lands, one gets through.
    const health = await waitFor(
      "bob to be admitted",
      () =>
        t
          .client(keysFor(server, bob))
          .request("health", {}, 1_000)
          .catch(() => null),
      20_000,
    );
    expect(health.healthy).toBe(true);
  });

  it("stops serving a connected client once its key is removed, while other clients keep working", async () => {
    const alice = generateKeypair();
    const bob = generateKeypair();
    const { t, server, allowlistFile } = await curveServer([alice, bob]);
    const a = t.client(keysFor(server, alice));
    const b = t.client(keysFor(server, bob));
    const aStream = new StreamCollector(t.server.endpoints.publish, ["status."], keysFor(server, alice));
    const bStream = new StreamCollector(t.server.endpoints.publish, ["status."], keysFor(server, bob));
    cleanups.push(
      () => aStream.close(),
      () => bStream.close(),
    );
    expect((await a.request("health", {})).healthy).toBe(true);
    expect((await b.request("health", {})).healthy).toBe(true);
    // Both subscribers are connected and subscribed once a spawn's status events reach them.
    await waitFor(
      "both subscribers to receive status events",
      async () => {
        await b.request("spawn", { command: "true" });
        return aStream.events.length > 0 && bStream.events.length > 0;
      },
      20_000,
    );

    writeAllowlist(allowlistFile, [bob.publicKey]);
    await waitFor(
      "the server to close client connections after the revocation",
      async () => metricValue(await t.metricsText(), "zeroplane_connection_recycles_total") >= 1,
      20_000,
    );
    const metrics = await t.metricsText();
    expect(metricValue(metrics, "zeroplane_allowlist_revocations_total")).toBe(1);

    // Alice's open connection was closed and her DEALER's automatic reconnect is refused by ZAP.
    await expect(a.request("health", {}, 2_000)).rejects.toThrow(/no reply/);
    await waitFor(
      "ZAP to refuse alice's reconnect",
      async () =>
        metricValue(await t.metricsText(), "zeroplane_auth_rejections_total", { reason: "not-allowlisted" }) >
        0,
      20_000,
    );
    // Bob's sockets reconnect by themselves and are served again.
    const health = await waitFor(
      "bob's reconnected requests to be answered",
      () => b.request("health", {}, 2_000).catch(() => null),
      20_000,
    );
    expect(health.healthy).toBe(true);
    const aSeen = aStream.events.length;
    await waitFor(
      "bob's subscriber to receive events again",
      async () => {
        const before = bStream.events.length;
        await b.request("spawn", { command: "true" });
        return waitFor("bob's events", () => bStream.events.length > before, 2_000).catch(() => false);
      },
      20_000,
    );
    expect(aStream.events.length).toBe(aSeen);
    await expect(a.request("health", {}, 1_000)).rejects.toThrow(/no reply/);

    const logs = t.logLines.join("\n");
    expect(logs).toContain("client keys revoked");
    for (const key of [alice.publicKey, alice.secretKey, bob.publicKey, server.secretKey]) {
      expect(logs).not.toContain(key);
    }
  });

  it("protects the PUB stream with CURVE and the allowlist too", async () => {
    const alice = generateKeypair();
    const mallory = generateKeypair();
    const { t, server } = await curveServer([alice]);
    const allowed = new StreamCollector(t.server.endpoints.publish, ["status."], keysFor(server, alice));
    const refused = new StreamCollector(t.server.endpoints.publish, ["status."], keysFor(server, mallory));
    cleanups.push(
      () => allowed.close(),
      () => refused.close(),
    );
    const client = t.client(keysFor(server, alice));
    await waitFor(
      "the allowlisted subscriber to receive events",
      async () => {
        await client.request("spawn", { command: "true" });
        await new Promise((resolve) => setTimeout(resolve, 100));
        return allowed.events.length > 0;
      },
      15_000,
    );
    expect(refused.events).toEqual([]);
  });
});

describe("security at startup", () => {
  it("refuses to start with CURVE on and no secret key, naming the variable and `zeroplane keygen`", async () => {
    const config = testConfig({ security: { curve: true, allowlistFile: "/nonexistent" } });
    await expect(startServer(config)).rejects.toThrow(ConfigError);
    await expect(startServer(config)).rejects.toThrow(
      /ZEROPLANE_SECURITY_SECRET_KEY_FILE.*zeroplane keygen/s,
    );
  });

  it("refuses to start with CURVE on and the allowlist file missing", async () => {
    const dir = tempDir();
    const keys = writeKeypair(dir);
    const config = testConfig({
      security: { curve: true, secretKeyFile: keys.secretKeyFile, allowlistFile: join(dir, "missing.txt") },
    });
    await expect(startServer(config)).rejects.toThrow(/allowlist .*missing\.txt.*ENOENT/s);
    const unset = testConfig({ security: { curve: true, secretKeyFile: keys.secretKeyFile } });
    await expect(startServer(unset)).rejects.toThrow(/ZEROPLANE_SECURITY_ALLOWLIST_FILE/);
  });

  it("refuses a plaintext listener beyond loopback unless allowInsecure is set", async () => {
    const config = testConfig();
    const exposed = { ...config, server: { ...config.server, bind: "tcp://0.0.0.0:*" } };
    await expect(startServer(exposed)).rejects.toThrow(/beyond loopback/);
  });
});
