import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { curveKeyPair } from "zeromq";
import { describe, expect, it } from "vitest";
import {
  AuthenticationError,
  ClientUsageError,
  RemoteError,
  RequestTimeoutError,
  UnreachableError,
} from "../../../runtime/client/index.js";
import { healthExitCode } from "../../../runtime/cli/commands/health.js";
import { LOCAL_SERVER_DEFAULTS, serverOverrides } from "../../../runtime/cli/commands/server.js";
import {
  CliError,
  DEFAULT_ENDPOINT,
  EXIT_CODES,
  exitCodeFor,
  formatAge,
  formatTable,
  parsePairs,
  resolveClientOptions,
} from "../../../runtime/cli/shared.js";
import { CLIENT_ENV_VARS, ConfigError, ENV_VARS } from "../../../runtime/config/index.js";

const tempDir = () => mkdtempSync(join(tmpdir(), "zp-cli-shared-"));

describe("where the CLI finds endpoint and keys", () => {
  it("defaults to a local server with CURVE off", () => {
    const options = resolveClientOptions({}, {});
    expect(options.endpoints).toEqual([DEFAULT_ENDPOINT]);
    expect(options.curve).toBeNull();
    expect(options.timeoutMs).toBe(30_000);
  });

  it("prefers flags to the environment, and the environment to the config file", () => {
    const dir = tempDir();
    const file = join(dir, "client.yaml");
    writeFileSync(file, "endpoints: [tcp://file:1]\ntimeoutMs: 1000\nplacement: round-robin\n");
    const env = {
      [CLIENT_ENV_VARS.endpoints]: "tcp://env:1,tcp://env:2",
      [CLIENT_ENV_VARS.timeoutMs]: "2000",
    };
    expect(resolveClientOptions({ config: file }, {})).toMatchObject({
      endpoints: ["tcp://file:1"],
      timeoutMs: 1000,
      placement: "round-robin",
    });
    expect(resolveClientOptions({ config: file }, env)).toMatchObject({
      endpoints: ["tcp://env:1", "tcp://env:2"],
      timeoutMs: 2000,
    });
    expect(
      resolveClientOptions({ config: file, endpoint: ["tcp://flag:1"], timeout: 3000 }, env),
    ).toMatchObject({
      endpoints: ["tcp://flag:1"],
      timeoutMs: 3000,
    });
  });

  it("takes all keys from the first place that names the server key", () => {
    const dir = tempDir();
    const server = curveKeyPair();
    const client = curveKeyPair();
    writeFileSync(join(dir, "server.key"), server.publicKey);
    writeFileSync(join(dir, "client.key_secret"), client.secretKey);
    const file = join(dir, "client.yaml");
    writeFileSync(file, "serverPublicKeyFile: server.key\nclientSecretKeyFile: client.key_secret\n");
    expect(resolveClientOptions({ config: file }, {}).curve).toEqual({
      serverPublicKey: server.publicKey,
      publicKey: client.publicKey,
      secretKey: client.secretKey,
    });
    const other = curveKeyPair();
    const fromEnv = resolveClientOptions(
      { config: file },
      { [CLIENT_ENV_VARS.serverPublicKey]: other.publicKey },
    );
    expect(fromEnv.curve?.serverPublicKey).toBe(other.publicKey);
    expect(fromEnv.curve?.publicKey).not.toBe(client.publicKey);
  });

  it("names a bad config file entry and the valid keys", () => {
    const file = join(tempDir(), "client.yaml");
    writeFileSync(file, "endpoint: tcp://x:1\n");
    expect(() => resolveClientOptions({ config: file }, {})).toThrow(
      /bad entry.*Fix: use the keys endpoints, publishEndpoints/,
    );
    expect(() => resolveClientOptions({}, { [CLIENT_ENV_VARS.timeoutMs]: "soon" })).toThrow(
      /ZEROPLANE_CLIENT_TIMEOUT_MS must be a whole number above 0, got "soon"/,
    );
  });
});

describe("CLI exit codes", () => {
  it("maps each kind of failure to its documented code", () => {
    expect(exitCodeFor(new RemoteError({ code: "NOT_FOUND", message: "x", retryable: false }))).toBe(1);
    expect(exitCodeFor(new ClientUsageError("x"))).toBe(2);
    expect(exitCodeFor(new ConfigError("x", "server.bind"))).toBe(2);
    expect(exitCodeFor(new RequestTimeoutError("x"))).toBe(3);
    expect(exitCodeFor(new UnreachableError("x"))).toBe(3);
    expect(exitCodeFor(new AuthenticationError("x"))).toBe(4);
    expect(exitCodeFor(new CliError("x", EXIT_CODES.localFile))).toBe(5);
  });

  it("gives health the worst code among the servers", () => {
    const healthy = { healthy: true, ready: true, draining: false } as never;
    const draining = { healthy: true, ready: false, draining: true } as never;
    const ok = (result: never) => ({ endpoint: "e", serverId: "s", ok: true as const, result });
    const failed = (error: Error) => ({ endpoint: "e", serverId: null, ok: false as const, error });
    expect(healthExitCode([ok(healthy), ok(healthy)])).toBe(0);
    expect(healthExitCode([ok(healthy), ok(draining)])).toBe(1);
    expect(healthExitCode([ok(draining), failed(new UnreachableError("x"))])).toBe(3);
    expect(healthExitCode([failed(new AuthenticationError("x")), failed(new UnreachableError("x"))])).toBe(4);
  });
});

describe("CLI output helpers", () => {
  it("aligns table columns under their headers and shows missing values as -", () => {
    const text = formatTable(
      [
        { id: "a1", status: "running", note: null },
        { id: "bbbb2", status: "exited", note: "two words" },
      ],
      [
        { header: "ID", value: (r) => r.id },
        { header: "STATUS", value: (r) => r.status },
        { header: "NOTE", value: (r) => r.note },
      ],
    );
    expect(text).toBe("ID     STATUS   NOTE\na1     running  -\nbbbb2  exited   two words\n");
  });

  it("formats ages in the largest whole unit", () => {
    const now = 1_000_000_000;
    expect([5_000, 120_000, 7_200_000, 172_800_000].map((ago) => formatAge(now - ago, now))).toEqual([
      "5s",
      "2m",
      "2h",
      "2d",
    ]);
  });

  it("parses key=value flags and names a bad one", () => {
    expect(parsePairs("--label", ["a=1", "b=x=y"])).toEqual({ a: "1", b: "x=y" });
    expect(() => parsePairs("--label", ["nokey"])).toThrow(/--label expects key=value, got "nokey"/);
  });
});

describe("zeroplane server defaults", () => {
  it("binds to loopback with CURVE off when nothing else is configured", () => {
    expect(serverOverrides({}, {})).toMatchObject({
      server: { bind: LOCAL_SERVER_DEFAULTS.bind, publishBind: LOCAL_SERVER_DEFAULTS.publishBind },
      http: { host: "127.0.0.1" },
      security: { curve: false },
    });
  });

  it("turns CURVE on with a secret key, and leaves settings from the environment alone", () => {
    expect(serverOverrides({ secretKeyFile: "/k" }, {}).security).toMatchObject({
      curve: true,
      secretKeyFile: "/k",
    });
    const fromEnv = serverOverrides(
      {},
      { [ENV_VARS["server.bind"]]: "tcp://0.0.0.0:5555", [ENV_VARS["security.secretKeyFile"]]: "/k" },
    );
    expect(fromEnv.server?.bind).toBeUndefined();
    expect(fromEnv.security?.curve).toBeUndefined();
  });

  it("leaves settings from a config file alone too", () => {
    const file = join(tempDir(), "server.yaml");
    writeFileSync(file, "server:\n  bind: tcp://10.0.0.1:7000\nsecurity:\n  curve: true\n");
    const overrides = serverOverrides({}, { ZEROPLANE_CONFIG: file });
    expect(overrides.server?.bind).toBeUndefined();
    expect(overrides.server?.publishBind).toBe(LOCAL_SERVER_DEFAULTS.publishBind);
    expect(overrides.security?.curve).toBeUndefined();
  });
});
