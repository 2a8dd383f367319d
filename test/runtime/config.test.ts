import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CLIENT_ENV_VARS,
  ConfigError,
  ENV_VARS,
  configSchema,
  defaultConfig,
  loadConfig,
} from "../../runtime/config/index.js";
import { thrown } from "../support/thrown.js";

const KEY = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "zp-config-"));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("runtime config", () => {
  it("has an environment variable for every config key, named ZEROPLANE_<SECTION>_<KEY>", () => {
    const schemaKeys = Object.entries(configSchema.shape).flatMap(([section, schema]) =>
      Object.keys(schema.shape).map((key) => `${section}.${key}`),
    );
    expect(Object.keys(ENV_VARS).sort()).toEqual(schemaKeys.sort());
    for (const [path, name] of Object.entries(ENV_VARS)) {
      const expected = `ZEROPLANE_${path
        .replace(".", "_")
        .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
        .toUpperCase()}`;
      expect(name).toBe(expected);
    }
  });

  it("is secure by default: CURVE on, ROUTER on port 5555", () => {
    const config = loadConfig({ env: {} });
    expect(config.security.curve).toBe(true);
    expect(config.server.bind).toBe("tcp://0.0.0.0:5555");
    expect(config.server.maxMessageBytes).toBe(10 * 1024 * 1024);
  });

  it("applies defaults, then the file, then the environment, then overrides", () => {
    const file = tempFile("c.yaml", "server:\n  maxAgents: 7\n  id: from-file\nlog:\n  level: debug\n");
    const config = loadConfig({
      file,
      env: { [ENV_VARS["server.maxAgents"]]: "9", [ENV_VARS["nats.urls"]]: "nats://a:4222, nats://b:4222" },
      overrides: { log: { level: "warn" } },
    });
    expect(config.server.maxAgents).toBe(9);
    expect(config.server.id).toBe("from-file");
    expect(config.nats.urls).toEqual(["nats://a:4222", "nats://b:4222"]);
    expect(config.log.level).toBe("warn");
    expect(config.runner.outputCapBytes).toBe(defaultConfig().runner.outputCapBytes);
  });

  it("names an unknown key in a file and lists the valid ones", () => {
    const file = tempFile("c.yaml", "server:\n  maxAgent: 7\n");
    expect(() => loadConfig({ file, env: {} })).toThrow(/unknown config key "server.maxAgent".*maxAgents/);
  });

  it("names an unknown section", () => {
    const file = tempFile("c.json", '{"sever": {}}');
    expect(() => loadConfig({ file, env: {} })).toThrow(/unknown config section "sever"/);
  });

  it("names an unknown ZEROPLANE_ variable", () => {
    expect(() => loadConfig({ env: { ZEROPLANE_SERVER_MAX_AGENT: "3" } })).toThrow(
      /unknown environment variable ZEROPLANE_SERVER_MAX_AGENT/,
    );
  });

  it("ignores the client's ZEROPLANE_ variables, so one shell can run a server and the CLI", () => {
    const clientEnv = Object.fromEntries(Object.values(CLIENT_ENV_VARS).map((name) => [name, "x"]));
    const config = loadConfig({ env: { ...clientEnv, [ENV_VARS["server.maxAgents"]]: "4" } });
    expect(config.server.maxAgents).toBe(4);
    expect(Object.values(CLIENT_ENV_VARS).filter((name) => name.startsWith("ZEROPLANE_")).length).toBe(
      Object.keys(CLIENT_ENV_VARS).length,
    );
  });

  it("names the key, variable and bad value for a wrong type", () => {
    const error = thrown(() => loadConfig({ env: { [ENV_VARS["server.maxAgents"]]: "lots" } }));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/ZEROPLANE_SERVER_MAX_AGENTS="lots" is not a number/);
  });

  it("rejects a value outside its range with the path and value", () => {
    expect(() => loadConfig({ env: {}, overrides: { server: { maxAgents: 0 } } })).toThrow(
      /invalid config "server.maxAgents" \(ZEROPLANE_SERVER_MAX_AGENTS\).*got 0/,
    );
  });

  it("rejects a malformed Z85 key", () => {
    expect(() => loadConfig({ env: { [ENV_VARS["security.secretKey"]]: "short" } })).toThrow(
      /security.secretKey.*40-character Z85/,
    );
    expect(loadConfig({ env: { [ENV_VARS["security.secretKey"]]: KEY } }).security.secretKey).toBe(KEY);
  });

  it("refuses plaintext beyond loopback unless explicitly allowed", () => {
    expect(() => loadConfig({ env: { [ENV_VARS["security.curve"]]: "false" } })).toThrow(
      /CURVE is off but tcp:\/\/0.0.0.0:5555.*ZEROPLANE_SECURITY_ALLOW_INSECURE/,
    );
    const loopback = loadConfig({
      env: {},
      overrides: {
        security: { curve: false },
        server: { bind: "tcp://127.0.0.1:5555", publishBind: "tcp://127.0.0.1:5556" },
      },
    });
    expect(loopback.security.curve).toBe(false);
    const allowed = loadConfig({
      env: { [ENV_VARS["security.curve"]]: "false", [ENV_VARS["security.allowInsecure"]]: "true" },
    });
    expect(allowed.security.allowInsecure).toBe(true);
  });

  it("never echoes a secret key in an error, which would end up in the logs", () => {
    const leaked = `${KEY.slice(0, 39)} `;
    let message = "";
    try {
      loadConfig({ env: { [ENV_VARS["security.secretKey"]]: `${leaked}x` } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/security.secretKey.*a secret of 41 characters \(not shown\)/);
    expect(message).not.toContain(KEY.slice(0, 20));
  });

  it("redacts credentials in URLs when it reports a bad value", () => {
    expect(() =>
      loadConfig({ env: {}, overrides: { nats: { urls: ["http://alice:hunter2@nats:4222"] } } }),
    ).toThrow(/http:\/\/\[redacted\]@nats:4222/);
    expect(() =>
      loadConfig({ env: {}, overrides: { nats: { urls: ["http://alice:hunter2@nats:4222"] } } }),
    ).not.toThrow(/hunter2/);
  });

  it("serves health and metrics on loopback unless told otherwise", () => {
    expect(loadConfig({ env: {} }).http.host).toBe("127.0.0.1");
    expect(loadConfig({ env: { [ENV_VARS["http.host"]]: "0.0.0.0" } }).http.host).toBe("0.0.0.0");
  });

  it("refuses NATS command intake from an unauthenticated NATS beyond loopback", () => {
    const intake = { enabled: true, commands: true, urls: ["nats://nats.zeroplane:4222"] };
    expect(() => loadConfig({ env: {}, overrides: { nats: intake } })).toThrow(
      /NATS command intake.*no NATS credentials.*ZEROPLANE_NATS_USER_FILE/,
    );
    const withCredentials = { ...intake, userFile: "/run/nats/user", passwordFile: "/run/nats/password" };
    expect(loadConfig({ env: {}, overrides: { nats: withCredentials } }).nats.commands).toBe(true);
    const local = { ...intake, urls: ["nats://127.0.0.1:4222"] };
    expect(loadConfig({ env: {}, overrides: { nats: local } }).nats.commands).toBe(true);
    const accepted = loadConfig({ env: {}, overrides: { nats: intake, security: { allowInsecure: true } } });
    expect(accepted.nats.commands).toBe(true);
  });

  it("reports an unreadable or non-mapping config file", () => {
    expect(() => loadConfig({ file: "/nonexistent/zeroplane.yaml", env: {} })).toThrow(
      /cannot read config file/,
    );
    expect(() => loadConfig({ file: tempFile("l.yaml", "- a\n- b\n"), env: {} })).toThrow(/not a list/);
    expect(() => loadConfig({ file: tempFile("b.yaml", "server: [\n"), env: {} })).toThrow(/not valid YAML/);
  });
});

describe("config durations", () => {
  const TIMER_KEYS = [
    ["server", "idempotencyWindowMs"],
    ["server", "requestTimeoutMs"],
    ["server", "shutdownGraceMs"],
    ["server", "heartbeatIntervalMs"],
    ["server", "heartbeatTimeoutMs"],
    ["server", "handshakeTimeoutMs"],
    ["runner", "retentionMs"],
    ["runner", "stopGraceMs"],
    ["nats", "reconnectWaitMs"],
  ] as const;

  it("refuse 2^31 ms and more, which setTimeout would fire at once, naming the key and the maximum", () => {
    for (const [section, key] of TIMER_KEYS) {
      const at = loadConfig({ env: {}, overrides: { [section]: { [key]: 2 ** 31 - 1 } } });
      expect((at[section] as Record<string, unknown>)[key]).toBe(2 ** 31 - 1);
      expect(() => loadConfig({ env: {}, overrides: { [section]: { [key]: 2 ** 31 } } })).toThrow(
        new RegExp(`invalid config "${section}.${key}".*at most 2147483647 ms`),
      );
    }
  });

  it("bound the heartbeat TTL by libzmq's ceiling", () => {
    expect(() => loadConfig({ env: {}, overrides: { server: { heartbeatTtlMs: 6_553_600 } } })).toThrow(
      /server.heartbeatTtlMs.*at most 6553599 ms/,
    );
  });
});

describe("the shutdown budget", () => {
  it("keeps agentDrainMs + shutdownGraceMs within one timer", () => {
    const overrides = { server: { agentDrainMs: 2 ** 31 - 1 - 25_000, shutdownGraceMs: 25_000 } };
    expect(loadConfig({ env: {}, overrides }).server.agentDrainMs).toBe(2 ** 31 - 1 - 25_000);
    expect(() =>
      loadConfig({ env: {}, overrides: { server: { ...overrides.server, shutdownGraceMs: 25_001 } } }),
    ).toThrow(
      /invalid config "server.agentDrainMs".*agentDrainMs \+ shutdownGraceMs \(2147483648 ms\) must be at most 2147483647 ms/,
    );
  });
});
