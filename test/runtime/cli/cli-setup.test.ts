/**
 * Getting started with the real CLI: keygen, `zeroplane server` (plaintext on loopback),
 * where the client finds endpoint and keys (flags, environment, config file), and the exit codes.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../../../runtime/cli/shared.js";
import { startCliServer, type CliServer } from "./support/cli-server.js";
import { runCli } from "./support/run-cli.js";

describe("zeroplane CLI setup", () => {
  const dir = mkdtempSync(join(tmpdir(), "zp-cli-setup-"));
  const servers: CliServer[] = [];
  afterAll(async () => {
    for (const server of servers) if (server.child.exitCode === null) server.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  describe("keygen", () => {
    const keys = join(dir, "keygen");

    it("writes a server keypair with a private secret file and prints the public key", async () => {
      const result = await runCli(["keygen", "--dir", keys]);
      expect(result.code).toBe(0);
      const publicKey = readFileSync(join(keys, "server.key"), "utf8").trim();
      expect(publicKey).toHaveLength(40);
      expect(result.stdout).toContain(`public key:  ${publicKey}`);
      expect(statSync(join(keys, "server.key_secret")).mode & 0o777).toBe(0o600);
      expect(result.stdout).not.toContain(readFileSync(join(keys, "server.key_secret"), "utf8").trim());
    });

    it("refuses to overwrite a key without --force (exit 5), and replaces it with --force", async () => {
      const before = readFileSync(join(keys, "server.key_secret"), "utf8");
      const refused = await runCli(["keygen", "--dir", keys]);
      expect(refused.code).toBe(EXIT_CODES.localFile);
      expect(refused.stderr).toMatch(/server.key already exists; refusing to replace a key.*--force/);
      expect(readFileSync(join(keys, "server.key_secret"), "utf8")).toBe(before);
      const forced = await runCli(["keygen", "--dir", keys, "--force"]);
      expect(forced.code).toBe(0);
      expect(readFileSync(join(keys, "server.key_secret"), "utf8")).not.toBe(before);
    });

    it("replaces a world-readable client secret with a new 0600 file under --force", async () => {
      const secretFile = join(keys, "reused.key_secret");
      writeFileSync(secretFile, "old secret\n", { mode: 0o644 });
      chmodSync(secretFile, 0o644);
      const oldInode = statSync(secretFile).ino;
      const result = await runCli(["keygen", "--dir", keys, "--name", "reused", "--force"]);
      expect(result.code).toBe(0);
      expect(statSync(secretFile).mode & 0o777).toBe(0o600);
      // A new file renamed into place: the old, readable one was never written with the new secret.
      expect(statSync(secretFile).ino).not.toBe(oldInode);
      expect(readFileSync(secretFile, "utf8")).not.toContain("old secret");
      expect(readdirSync(keys).filter((name) => name.endsWith(".tmp"))).toEqual([]);
    });

    it("writes a named client keypair and never prints the secret in JSON", async () => {
      const result = await runCli(["keygen", "--dir", keys, "--name", "client", "--json"]);
      expect(result.code).toBe(0);
      const summary = JSON.parse(result.stdout) as Record<string, string>;
      expect(Object.keys(summary).sort()).toEqual(["publicKey", "publicKeyFile", "secretKeyFile"]);
      expect(summary.publicKey).toBe(readFileSync(join(keys, "client.key"), "utf8").trim());
      expect(statSync(join(keys, "client.key_secret")).mode & 0o777).toBe(0o600);
    });
  });

  describe("a plaintext loopback server from `zeroplane server`", () => {
    let server: CliServer;
    beforeAll(async () => {
      server = await startCliServer([], join(dir, "plain-state"));
      servers.push(server);
    });

    it("serves clients without keys, and says how to try it", async () => {
      expect(server.stderr()).toMatch(/CURVE off, loopback only.*zeroplane spawn/);
      const health = await runCli(["health", "--endpoint", server.endpoint]);
      expect(health.code).toBe(0);
      expect(health.stdout).toMatch(/ ready /);
    });

    it("takes the endpoint from ZEROPLANE_ENDPOINTS or from a config file", async () => {
      const fromEnv = await runCli(["health"], { env: { ZEROPLANE_ENDPOINTS: server.endpoint } });
      expect(fromEnv.code).toBe(0);
      const configFile = join(dir, "client.yaml");
      writeFileSync(configFile, `endpoints:\n  - ${server.endpoint}\ntimeoutMs: 5000\n`);
      const fromFile = await runCli(["health", "--config", configFile]);
      expect(fromFile.code).toBe(0);
    });

    it("exits 2 for bad usage and 3 for an unreachable server, saying what to do", async () => {
      const [unknownFlag, badEndpoint, badConfig, unreachable] = await Promise.all([
        runCli(["list", "--no-such-flag"]),
        runCli(["list", "--endpoint", "http://127.0.0.1:1"]),
        runCli(["list", "--config", join(dir, "missing.yaml")]),
        runCli(["list", "--endpoint", "tcp://127.0.0.1:1", "--timeout", "1500"]),
      ]);
      expect(unknownFlag.code).toBe(EXIT_CODES.usage);
      expect(unknownFlag.stderr).toMatch(/unknown option '--no-such-flag'/);
      expect(badEndpoint.code).toBe(EXIT_CODES.usage);
      expect(badEndpoint.stderr).toMatch(/invalid endpoint "http:\/\/127.0.0.1:1".*Fix/);
      expect(badConfig.code).toBe(EXIT_CODES.usage);
      expect(badConfig.stderr).toMatch(/cannot read the config file/);
      expect(unreachable.code).toBe(EXIT_CODES.unreachable);
      expect(unreachable.stderr).toMatch(
        /cannot reach tcp:\/\/127.0.0.1:1.*Fix: check that the server is running/,
      );
    });

    it("drains and exits 0 on SIGTERM", async () => {
      expect(await server.stop()).toBe(0);
    });
  });
});
