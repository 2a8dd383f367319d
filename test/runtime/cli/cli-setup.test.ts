/**
 * Getting started with the real CLI: keygen, `zeroplane server` (plaintext on loopback, then CURVE),
 * where the client finds endpoint and keys (flags, environment, config file), and the exit codes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../../../runtime/cli/shared.js";
import { freePorts } from "../../support/ports.js";
import { waitUntil } from "../client/support/servers.js";
import { cleanEnv, cliMain, repoRoot, runCli } from "./support/run-cli.js";

interface CliServer {
  readonly child: ChildProcess;
  readonly endpoint: string;
  stderr(): string;
  stop(): Promise<number | null>;
}

/** Runs `zeroplane server ...` and waits until it says it is running. */
async function startCliServer(args: string[], stateDir: string): Promise<CliServer> {
  const [router, publish] = await freePorts(2);
  const endpoint = `tcp://127.0.0.1:${router}`;
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      cliMain,
      "server",
      "--bind",
      endpoint,
      "--publish-bind",
      `tcp://127.0.0.1:${publish}`,
      "--http-port",
      "0",
      "--state-dir",
      stateDir,
      "--log-level",
      "warn",
      ...args,
    ],
    { cwd: repoRoot, env: cleanEnv(), stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await waitUntil(
    () => stderr.includes("zeroplane server running") || child.exitCode !== null,
    45_000,
    "zeroplane server to start",
  );
  if (child.exitCode !== null) throw new Error(`zeroplane server exited: ${stderr}`);
  return {
    child,
    endpoint,
    stderr: () => stderr,
    stop: async () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

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
      expect(unreachable.stderr).toMatch(/cannot reach tcp:\/\/127.0.0.1:1.*Fix: check that the server is running/);
    });

    it("drains and exits 0 on SIGTERM", async () => {
      expect(await server.stop()).toBe(0);
    });
  });

  describe("a CURVE server from `zeroplane server` with keys from keygen", () => {
    const keys = join(dir, "curve");
    let server: CliServer;
    beforeAll(async () => {
      for (const name of ["server", "client", "other"]) {
        expect((await runCli(["keygen", "--dir", keys, "--name", name])).code).toBe(0);
      }
      const allowlist = join(keys, "allowlist.txt");
      writeFileSync(allowlist, readFileSync(join(keys, "client.key"), "utf8"));
      server = await startCliServer(
        ["--secret-key-file", join(keys, "server.key_secret"), "--allowlist-file", allowlist],
        join(dir, "curve-state"),
      );
      servers.push(server);
    });

    it("serves a client with the server key and an allowlisted client key, from flags, env or config", async () => {
      const [byFlags, byEnv] = await Promise.all([
        runCli([
          "health",
          "--endpoint",
          server.endpoint,
          "--server-key-file",
          join(keys, "server.key"),
          "--client-key-file",
          join(keys, "client.key_secret"),
        ]),
        runCli(["health"], {
          env: {
            ZEROPLANE_ENDPOINTS: server.endpoint,
            ZEROPLANE_SERVER_PUBLIC_KEY_FILE: join(keys, "server.key"),
            ZEROPLANE_CLIENT_SECRET_KEY_FILE: join(keys, "client.key_secret"),
          },
        }),
      ]);
      expect(byFlags.code).toBe(0);
      expect(byEnv.code).toBe(0);
      // Key paths in a config file are relative to the file.
      const configFile = join(keys, "zeroplane.yaml");
      writeFileSync(
        configFile,
        `endpoints: ${server.endpoint}\nserverPublicKeyFile: server.key\nclientSecretKeyFile: client.key_secret\n`,
      );
      expect((await runCli(["health", "--config", configFile])).code).toBe(0);
    });

    it("exits 4 with a clear message for a wrong server key, a stranger's key, or no keys", async () => {
      const common = ["health", "--endpoint", server.endpoint, "--timeout", "8000"];
      const [wrongServer, stranger, plaintext] = await Promise.all([
        runCli([...common, "--server-key-file", join(keys, "other.key"), "--client-key-file", join(keys, "client.key_secret")]),
        runCli([...common, "--server-key-file", join(keys, "server.key"), "--client-key-file", join(keys, "other.key_secret")]),
        runCli(common),
      ]);
      for (const result of [wrongServer, stranger, plaintext]) {
        expect(result.code).toBe(EXIT_CODES.auth);
        expect(result.stderr).toMatch(/CURVE authentication failed.*check the server public key.*allowlisted/);
      }
    });

    it("refuses a server key file that is not a key, naming the file (exit 2)", async () => {
      const result = await runCli(["health", "--endpoint", server.endpoint, "--server-key-file", join(keys, "allowlist.txt.nope")]);
      expect(result.code).toBe(EXIT_CODES.usage);
      expect(result.stderr).toMatch(/cannot read the server public key file .*allowlist.txt.nope/);
    });
  });
});
