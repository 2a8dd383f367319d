/**
 * `zeroplane server` fails loudly: every startup failure ends the process with a non-zero exit
 * code and a message that names the setting and the fix, never a silent exit 0.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../../../runtime/cli/shared.js";
import { keyFingerprint } from "../../../runtime/security/keys.js";
import { freePorts } from "../../support/ports.js";
import { startCliServer } from "./support/cli-server.js";
import { cleanEnv, repoRoot, runCli, type CliResult } from "./support/run-cli.js";

describe("zeroplane server startup failures", () => {
  const dir = mkdtempSync(join(tmpdir(), "zp-cli-startup-"));
  const regularFile = join(dir, "regular-file");
  writeFileSync(regularFile, "not a directory\n");
  let takenPort: number;
  let freeRouter: number;
  let freePublish: number;
  let freeHttp: number;
  let holder: Server;

  beforeAll(async () => {
    [takenPort, freeRouter, freePublish, freeHttp] = (await freePorts(4)) as [number, number, number, number];
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(takenPort, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => holder.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  /** `zeroplane server` on free ports, with `ports` replacing some of them and extra flags and env. */
  function server(
    options: {
      router?: number;
      publish?: number;
      http?: number;
      args?: string[];
      env?: NodeJS.ProcessEnv;
    } = {},
  ): Promise<CliResult> {
    return runCli(
      [
        "server",
        "--bind",
        `tcp://127.0.0.1:${options.router ?? freeRouter}`,
        "--publish-bind",
        `tcp://127.0.0.1:${options.publish ?? freePublish}`,
        "--http-port",
        String(options.http ?? freeHttp),
        "--state-dir",
        join(dir, "state"),
        "--log-level",
        "warn",
        ...(options.args ?? []),
      ],
      { env: options.env, timeoutMs: 30_000 },
    );
  }

  it("exits 2 naming the ROUTER endpoint when its port is taken", async () => {
    const result = await server({ router: takenPort });
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toContain(`cannot bind tcp://127.0.0.1:${takenPort} (--bind`);
    expect(result.stderr).toMatch(/Address already in use\. Fix: choose a free address or port/);
  });

  it("exits 2 naming the PUB endpoint when its port is taken", async () => {
    const result = await server({ publish: takenPort });
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toContain(`cannot bind tcp://127.0.0.1:${takenPort} (--publish-bind`);
  });

  it("exits 2 naming the HTTP port when it is taken", async () => {
    const result = await server({ http: takenPort });
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toContain(`cannot listen on http://127.0.0.1:${takenPort}`);
    expect(result.stderr).toMatch(/EADDRINUSE.*Fix: choose a free port/);
  });

  it("exits 2 when nats.tokenFile does not exist", async () => {
    const missing = join(dir, "no-such-token");
    const result = await server({
      env: { ZEROPLANE_NATS_ENABLED: "true", ZEROPLANE_NATS_TOKEN_FILE: missing },
    });
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toContain(`cannot read nats.tokenFile (ZEROPLANE_NATS_TOKEN_FILE) at ${missing}`);
  });

  it("exits 2 when nats.spoolDir lies under a regular file", async () => {
    const result = await server({
      env: { ZEROPLANE_NATS_ENABLED: "true", ZEROPLANE_NATS_SPOOL_DIR: join(regularFile, "spool") },
    });
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toMatch(
      /cannot open the event spool at .*ENOTDIR\. Fix: make ZEROPLANE_NATS_SPOOL_DIR/,
    );
  });

  it("exits 2 when the secret key file is missing or holds no Z85 key", async () => {
    const garbage = join(dir, "bad.key_secret");
    writeFileSync(garbage, "xyzzy42\n", { mode: 0o600 });
    const [missing, bad] = await Promise.all([
      server({ args: ["--secret-key-file", join(dir, "absent.key_secret")] }),
      server({ args: ["--secret-key-file", garbage] }),
    ]);
    expect(missing.code).toBe(EXIT_CODES.usage);
    expect(missing.stderr).toMatch(
      /cannot read the CURVE secret key file .*absent\.key_secret.*ENOENT\. Fix: run `zeroplane keygen`/,
    );
    expect(bad.code).toBe(EXIT_CODES.usage);
    expect(bad.stderr).toMatch(/does not hold a 40-character Z85 key \(found 7 characters\)/);
    // Whatever the file holds might be a secret: the message gives its length, not its content.
    expect(bad.stderr).not.toContain("xyzzy42");
  });

  it("blames a bad flag value on the flag, not on the environment", async () => {
    const [port, level, bind] = await Promise.all([
      runCli(["server", "--http-port", "99999"]),
      runCli(["server", "--log-level", "loud"]),
      server({ args: ["--bind", "localhost:5555"] }),
    ]);
    expect(port.code).toBe(EXIT_CODES.usage);
    expect(port.stderr).toContain(
      '--http-port must be a port number from 0 to 65535 (0 picks a free port), got "99999"',
    );
    expect(level.code).toBe(EXIT_CODES.usage);
    expect(level.stderr).toMatch(
      /option '--log-level <level>' argument 'loud' is invalid\. Allowed choices are trace, debug/,
    );
    expect(bind.code).toBe(EXIT_CODES.usage);
    expect(bind.stderr).toContain('invalid config "server.bind" (--bind): must be a ZeroMQ endpoint');
    expect(bind.stderr).toContain("Fix: correct --bind.");
    for (const result of [port, level, bind])
      expect(result.stderr).not.toMatch(/ZEROPLANE_(HTTP_PORT|LOG_LEVEL|SERVER_BIND)/);
  });

  it("refuses a public key given as the secret key file, and logs its public key and fingerprint", async () => {
    const keys = join(dir, "keys");
    expect((await runCli(["keygen", "--dir", keys])).code).toBe(0);
    expect((await runCli(["keygen", "--dir", keys, "--name", "client"])).code).toBe(0);
    const allowlist = join(keys, "client.key");
    const refused = await server({
      args: ["--secret-key-file", join(keys, "server.key"), "--allowlist-file", allowlist],
    });
    expect(refused.code).toBe(EXIT_CODES.usage);
    expect(refused.stderr).toContain(
      `the CURVE secret key file ${join(keys, "server.key")} (--secret-key-file) holds a public key: it is the public half of the secret key in ${join(keys, "server.key_secret")}`,
    );

    const publicKey = readFileSync(join(keys, "server.key"), "utf8").trim();
    const started = await startCliServer(
      [
        "--secret-key-file",
        join(keys, "server.key_secret"),
        "--allowlist-file",
        allowlist,
        "--log-level",
        "info",
      ],
      join(dir, "keyed-state"),
    );
    try {
      const announced = started
        .stdout()
        .split("\n")
        .find((line) => line.includes("serverKeyFingerprint"));
      expect(JSON.parse(announced ?? "{}")).toMatchObject({
        serverPublicKey: publicKey,
        serverKeyFingerprint: keyFingerprint(publicKey),
      });
      expect(started.stdout()).not.toContain(readFileSync(join(keys, "server.key_secret"), "utf8").trim());
    } finally {
      await started.stop();
    }
  });

  it("exits 1 when the inline runner's state directory lies under a regular file", async () => {
    const result = await server({
      args: ["--state-dir", join(regularFile, "state")],
      env: { ZEROPLANE_RUNNER_MODE: "inline" },
    });
    expect(result.code).toBe(EXIT_CODES.serverError);
    expect(result.stderr).toMatch(
      /stateDir .*regular-file\/state cannot be used for agent records \(ENOTDIR\); set runner\.stateDir \(--state-dir\)/,
    );
  });

  it("exits 1 from the image's entry point (runtime/server/main.ts) when a port is taken", async () => {
    const result = await new Promise<CliResult>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "runtime/server/main.ts")], {
        cwd: repoRoot,
        env: cleanEnv({
          ZEROPLANE_SECURITY_CURVE: "false",
          ZEROPLANE_SERVER_BIND: `tcp://127.0.0.1:${takenPort}`,
          ZEROPLANE_SERVER_PUBLISH_BIND: `tcp://127.0.0.1:${freePublish}`,
          ZEROPLANE_HTTP_PORT: String(freeHttp),
          ZEROPLANE_RUNNER_STATE_DIR: join(dir, "state"),
          ZEROPLANE_LOG_LEVEL: "warn",
        }),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      child.once("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `zeroplane server: cannot bind tcp://127.0.0.1:${takenPort} (ZEROPLANE_SERVER_BIND): Address already in use`,
    );
  });
});
