/**
 * The agent server's configuration: one schema, one set of names.
 *
 * Precedence: built-in defaults, then a config file (YAML or JSON), then `ZEROPLANE_*`
 * environment variables. This module is the single source of the environment variable names,
 * the config keys, the default ports and the default mount paths: the constructs import them,
 * so the deployment and the runtime cannot drift apart.
 */
import { readFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

/** Default network ports. The constructs expose exactly these unless told otherwise. */
export const DEFAULT_PORTS = {
  /** ZeroMQ ROUTER socket: requests from DEALER clients. */
  router: 5555,
  /** ZeroMQ PUB socket: agent status changes and output, streamed to subscribers. */
  events: 5556,
  /** HTTP: /healthz, /readyz and /metrics. */
  http: 9090,
} as const;

/** Where the constructs mount files into the agent server's pod, and where the runtime looks by default. */
export const DEFAULT_PATHS = {
  /** Directory holding the server's CURVE keypair (a mounted Secret). */
  curveDir: "/var/run/zeroplane/curve",
  /** The server's CURVE secret key, Z85 (40 characters). */
  curveSecretKeyFile: "/var/run/zeroplane/curve/server.key_secret",
  /** The server's CURVE public key, Z85 (40 characters). */
  curvePublicKeyFile: "/var/run/zeroplane/curve/server.key",
  /** Directory holding the client allowlist (a mounted Secret or ConfigMap, reloaded on change). */
  allowlistDir: "/var/run/zeroplane/allowlist",
  /** Client public keys allowed through ZAP, one Z85 key per line. */
  allowlistFile: "/var/run/zeroplane/allowlist/allowlist.txt",
  /** Writable state: agent records for orphan reaping, the NATS spool. An emptyDir or PVC. */
  stateDir: "/var/lib/zeroplane",
  /** Directory holding NATS credentials files (a mounted Secret). */
  natsCredentialsDir: "/var/run/zeroplane/nats",
  /** Directory shared by the server and runner containers (an emptyDir); holds the runner's socket. */
  runnerDir: "/var/run/zeroplane/runner",
  /** The runner's Unix socket, in runnerDir. The runner accepts one connection (the server's) per lifetime. */
  runnerSocket: "/var/run/zeroplane/runner/runner.sock",
} as const;

/**
 * How the server reaches the process runner (see docs/runner.md):
 * - `process`: the server starts `zeroplane runner` as its own child (locally and in a single-container image);
 * - `socket`: the server connects to a runner already listening on `runner.socket` (the Kubernetes sidecar);
 * - `inline`: agents are children of the server itself. No isolation: for benchmarks and tests only.
 */
export const RUNNER_MODES = ["process", "socket", "inline"] as const;
export type RunnerMode = (typeof RUNNER_MODES)[number];

/** Arguments of the runner container (after the image's `zeroplane` entrypoint). */
export const RUNNER_CONTAINER_ARGS = ["runner", "--listen", DEFAULT_PATHS.runnerSocket] as const;

/** The dedicated unprivileged uid/gid agents run as when the runner starts as root, and the runner container's uid. */
export const AGENT_DEFAULT_UID = 10002;
export const AGENT_DEFAULT_GID = 10002;

/** Keys in a mounted CURVE Secret. The keygen Job writes these; the server reads them. */
export const CURVE_SECRET_KEYS = {
  publicKey: "server.key",
  secretKey: "server.key_secret",
} as const;

/** Key in the allowlist Secret or ConfigMap. */
export const ALLOWLIST_KEY = "allowlist.txt";

/** The environment variable that names a config file. */
export const CONFIG_FILE_ENV = "ZEROPLANE_CONFIG";

/** HTTP paths served by the observability port. */
export const HTTP_PATHS = { healthz: "/healthz", readyz: "/readyz", metrics: "/metrics" } as const;

const MiB = 1024 * 1024;

const zmqEndpoint = z
  .string()
  .regex(/^(tcp|ipc|inproc):\/\/.+$/, "must be a ZeroMQ endpoint such as tcp://0.0.0.0:5555");
const z85Key = z
  .string()
  .regex(/^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/, "must be a 40-character Z85 key");
const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

const serverSchema = z
  .object({
    id: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9_-]+$/, "must use only letters, digits, '-' and '_'"),
    bind: zmqEndpoint,
    publishBind: zmqEndpoint,
    maxMessageBytes: positiveInt,
    maxAgents: positiveInt,
    idempotencyWindowMs: positiveInt,
    requestTimeoutMs: positiveInt,
    shutdownGraceMs: positiveInt,
    stopAgentsOnShutdown: z.boolean(),
    heartbeatIntervalMs: nonNegativeInt,
    heartbeatTimeoutMs: nonNegativeInt,
    heartbeatTtlMs: nonNegativeInt,
    sendHighWaterMark: nonNegativeInt,
    receiveHighWaterMark: nonNegativeInt,
    handshakeTimeoutMs: nonNegativeInt,
  })
  .strict();

const securitySchema = z
  .object({
    curve: z.boolean(),
    secretKeyFile: z.string().min(1).optional(),
    secretKey: z85Key.optional(),
    allowlistFile: z.string().min(1).optional(),
    allowInsecure: z.boolean(),
  })
  .strict();

const runnerSchema = z
  .object({
    outputCapBytes: positiveInt,
    retentionMs: nonNegativeInt,
    stopGraceMs: positiveInt,
    stateDir: z.string().min(1),
    mode: z.enum(RUNNER_MODES),
    socket: z.string().min(1),
    agentUid: nonNegativeInt,
    agentGid: nonNegativeInt,
    // Per-agent limits (docs/runner.md): the default when a spawn sets none, and the most a spawn may ask; 0 is none.
    defaultMemoryBytes: nonNegativeInt,
    maxMemoryBytes: nonNegativeInt,
    defaultCpuSeconds: nonNegativeInt,
    maxCpuSeconds: nonNegativeInt,
    defaultProcesses: nonNegativeInt,
    maxProcesses: nonNegativeInt,
    defaultOpenFiles: nonNegativeInt,
    maxOpenFiles: nonNegativeInt,
  })
  .strict();

const httpSchema = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(0).max(65535),
  })
  .strict();

const natsSchema = z
  .object({
    enabled: z.boolean(),
    required: z.boolean(),
    urls: z
      .array(z.string().regex(/^(nats|tls|ws|wss):\/\/.+/, "must be a NATS URL such as nats://host:4222"))
      .min(1),
    stream: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, "must be a JetStream stream name (letters, digits, '-', '_')"),
    subjectPrefix: z.string().min(1),
    replicas: z.number().int().min(1).max(5),
    maxAgeMs: nonNegativeInt,
    storage: z.enum(["file", "memory"]),
    commands: z.boolean(),
    commandSubjectPrefix: z.string().min(1),
    queueGroup: z.string().min(1),
    tlsCaFile: z.string().min(1).optional(),
    tlsCertFile: z.string().min(1).optional(),
    tlsKeyFile: z.string().min(1).optional(),
    userFile: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    tokenFile: z.string().min(1).optional(),
    nkeySeedFile: z.string().min(1).optional(),
    credsFile: z.string().min(1).optional(),
    spoolDir: z.string().min(1).optional(),
    spoolMaxBytes: positiveInt,
    spoolFullPolicy: z.enum(["refuse-spawns", "drop-oldest"]),
    reconnectWaitMs: positiveInt,
  })
  .strict();

const logSchema = z
  .object({
    level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]),
  })
  .strict();

/** The whole configuration. Every section and key is required after defaults are applied. */
export const configSchema = z
  .object({
    server: serverSchema,
    security: securitySchema,
    runner: runnerSchema,
    http: httpSchema,
    nats: natsSchema,
    log: logSchema,
  })
  .strict();

export type ZeroplaneConfig = z.infer<typeof configSchema>;

/** A partial config, as written in a config file or passed by a caller. */
export type ZeroplaneConfigInput = { [S in keyof ZeroplaneConfig]?: Partial<ZeroplaneConfig[S]> };

/** Built-in defaults. Secure by default: CURVE on, no insecure bind. */
export function defaultConfig(): ZeroplaneConfig {
  return {
    server: {
      id: hostname().replace(/[^A-Za-z0-9_-]/g, "-"),
      bind: `tcp://0.0.0.0:${DEFAULT_PORTS.router}`,
      publishBind: `tcp://0.0.0.0:${DEFAULT_PORTS.events}`,
      maxMessageBytes: 10 * MiB,
      maxAgents: 100,
      idempotencyWindowMs: 10 * 60_000,
      requestTimeoutMs: 30_000,
      shutdownGraceMs: 25_000,
      stopAgentsOnShutdown: true,
      heartbeatIntervalMs: 5_000,
      heartbeatTimeoutMs: 15_000,
      heartbeatTtlMs: 30_000,
      sendHighWaterMark: 10_000,
      receiveHighWaterMark: 10_000,
      handshakeTimeoutMs: 10_000,
    },
    security: {
      curve: true,
      allowInsecure: false,
    },
    runner: {
      outputCapBytes: 10 * MiB,
      retentionMs: 5 * 60_000,
      stopGraceMs: 10_000,
      stateDir: join(tmpdir(), "zeroplane"),
      mode: "process",
      socket: DEFAULT_PATHS.runnerSocket,
      agentUid: AGENT_DEFAULT_UID,
      agentGid: AGENT_DEFAULT_GID,
      defaultMemoryBytes: 0,
      maxMemoryBytes: 0,
      defaultCpuSeconds: 0,
      maxCpuSeconds: 0,
      defaultProcesses: 0,
      maxProcesses: 0,
      defaultOpenFiles: 0,
      maxOpenFiles: 0,
    },
    // Loopback unless asked: the image and the constructs set 0.0.0.0 for probes and Prometheus.
    http: { host: "127.0.0.1", port: DEFAULT_PORTS.http },
    nats: {
      enabled: false,
      required: false,
      urls: ["nats://127.0.0.1:4222"],
      stream: "AGENT_EVENTS",
      subjectPrefix: "agent.events",
      replicas: 1,
      maxAgeMs: 7 * 24 * 3_600_000,
      storage: "file",
      commands: false,
      commandSubjectPrefix: "agent.commands",
      queueGroup: "zeroplane",
      spoolMaxBytes: 64 * MiB,
      spoolFullPolicy: "refuse-spawns",
      reconnectWaitMs: 2_000,
    },
    log: { level: "info" },
  };
}

/**
 * Every environment variable the runtime reads, keyed by its config path.
 * Names are `ZEROPLANE_<SECTION>_<KEY>` in upper snake case. Import these; never retype them.
 */
export const ENV_VARS = {
  "server.id": "ZEROPLANE_SERVER_ID",
  "server.bind": "ZEROPLANE_SERVER_BIND",
  "server.publishBind": "ZEROPLANE_SERVER_PUBLISH_BIND",
  "server.maxMessageBytes": "ZEROPLANE_SERVER_MAX_MESSAGE_BYTES",
  "server.maxAgents": "ZEROPLANE_SERVER_MAX_AGENTS",
  "server.idempotencyWindowMs": "ZEROPLANE_SERVER_IDEMPOTENCY_WINDOW_MS",
  "server.requestTimeoutMs": "ZEROPLANE_SERVER_REQUEST_TIMEOUT_MS",
  "server.shutdownGraceMs": "ZEROPLANE_SERVER_SHUTDOWN_GRACE_MS",
  "server.stopAgentsOnShutdown": "ZEROPLANE_SERVER_STOP_AGENTS_ON_SHUTDOWN",
  "server.heartbeatIntervalMs": "ZEROPLANE_SERVER_HEARTBEAT_INTERVAL_MS",
  "server.heartbeatTimeoutMs": "ZEROPLANE_SERVER_HEARTBEAT_TIMEOUT_MS",
  "server.heartbeatTtlMs": "ZEROPLANE_SERVER_HEARTBEAT_TTL_MS",
  "server.sendHighWaterMark": "ZEROPLANE_SERVER_SEND_HIGH_WATER_MARK",
  "server.receiveHighWaterMark": "ZEROPLANE_SERVER_RECEIVE_HIGH_WATER_MARK",
  "server.handshakeTimeoutMs": "ZEROPLANE_SERVER_HANDSHAKE_TIMEOUT_MS",
  "security.curve": "ZEROPLANE_SECURITY_CURVE",
  "security.secretKeyFile": "ZEROPLANE_SECURITY_SECRET_KEY_FILE",
  "security.secretKey": "ZEROPLANE_SECURITY_SECRET_KEY",
  "security.allowlistFile": "ZEROPLANE_SECURITY_ALLOWLIST_FILE",
  "security.allowInsecure": "ZEROPLANE_SECURITY_ALLOW_INSECURE",
  "runner.outputCapBytes": "ZEROPLANE_RUNNER_OUTPUT_CAP_BYTES",
  "runner.retentionMs": "ZEROPLANE_RUNNER_RETENTION_MS",
  "runner.stopGraceMs": "ZEROPLANE_RUNNER_STOP_GRACE_MS",
  "runner.stateDir": "ZEROPLANE_RUNNER_STATE_DIR",
  "runner.mode": "ZEROPLANE_RUNNER_MODE",
  "runner.socket": "ZEROPLANE_RUNNER_SOCKET",
  "runner.agentUid": "ZEROPLANE_RUNNER_AGENT_UID",
  "runner.agentGid": "ZEROPLANE_RUNNER_AGENT_GID",
  "runner.defaultMemoryBytes": "ZEROPLANE_RUNNER_DEFAULT_MEMORY_BYTES",
  "runner.maxMemoryBytes": "ZEROPLANE_RUNNER_MAX_MEMORY_BYTES",
  "runner.defaultCpuSeconds": "ZEROPLANE_RUNNER_DEFAULT_CPU_SECONDS",
  "runner.maxCpuSeconds": "ZEROPLANE_RUNNER_MAX_CPU_SECONDS",
  "runner.defaultProcesses": "ZEROPLANE_RUNNER_DEFAULT_PROCESSES",
  "runner.maxProcesses": "ZEROPLANE_RUNNER_MAX_PROCESSES",
  "runner.defaultOpenFiles": "ZEROPLANE_RUNNER_DEFAULT_OPEN_FILES",
  "runner.maxOpenFiles": "ZEROPLANE_RUNNER_MAX_OPEN_FILES",
  "http.host": "ZEROPLANE_HTTP_HOST",
  "http.port": "ZEROPLANE_HTTP_PORT",
  "nats.enabled": "ZEROPLANE_NATS_ENABLED",
  "nats.required": "ZEROPLANE_NATS_REQUIRED",
  "nats.urls": "ZEROPLANE_NATS_URLS",
  "nats.stream": "ZEROPLANE_NATS_STREAM",
  "nats.subjectPrefix": "ZEROPLANE_NATS_SUBJECT_PREFIX",
  "nats.replicas": "ZEROPLANE_NATS_REPLICAS",
  "nats.maxAgeMs": "ZEROPLANE_NATS_MAX_AGE_MS",
  "nats.storage": "ZEROPLANE_NATS_STORAGE",
  "nats.commands": "ZEROPLANE_NATS_COMMANDS",
  "nats.commandSubjectPrefix": "ZEROPLANE_NATS_COMMAND_SUBJECT_PREFIX",
  "nats.queueGroup": "ZEROPLANE_NATS_QUEUE_GROUP",
  "nats.tlsCaFile": "ZEROPLANE_NATS_TLS_CA_FILE",
  "nats.tlsCertFile": "ZEROPLANE_NATS_TLS_CERT_FILE",
  "nats.tlsKeyFile": "ZEROPLANE_NATS_TLS_KEY_FILE",
  "nats.userFile": "ZEROPLANE_NATS_USER_FILE",
  "nats.passwordFile": "ZEROPLANE_NATS_PASSWORD_FILE",
  "nats.tokenFile": "ZEROPLANE_NATS_TOKEN_FILE",
  "nats.nkeySeedFile": "ZEROPLANE_NATS_NKEY_SEED_FILE",
  "nats.credsFile": "ZEROPLANE_NATS_CREDS_FILE",
  "nats.spoolDir": "ZEROPLANE_NATS_SPOOL_DIR",
  "nats.spoolMaxBytes": "ZEROPLANE_NATS_SPOOL_MAX_BYTES",
  "nats.spoolFullPolicy": "ZEROPLANE_NATS_SPOOL_FULL_POLICY",
  "nats.reconnectWaitMs": "ZEROPLANE_NATS_RECONNECT_WAIT_MS",
  "log.level": "ZEROPLANE_LOG_LEVEL",
} as const;

/**
 * Environment variables read by the client SDK and the `zeroplane` CLI (not by the server).
 * `loadConfig()` ignores them, so a shell that talks to a server can also start one.
 */
export const CLIENT_ENV_VARS = {
  /** Comma-separated server endpoints: tcp://host:5555 or dns://name:5555 (every A/AAAA record). */
  endpoints: "ZEROPLANE_ENDPOINTS",
  /** Comma-separated PUB endpoints, in the same order as the endpoints. @default router port + 1 */
  publishEndpoints: "ZEROPLANE_PUBLISH_ENDPOINTS",
  /** The server's CURVE public key (Z85), or a file holding it. */
  serverPublicKey: "ZEROPLANE_SERVER_PUBLIC_KEY",
  serverPublicKeyFile: "ZEROPLANE_SERVER_PUBLIC_KEY_FILE",
  /** The client's CURVE keypair (Z85), or files holding them. */
  clientSecretKey: "ZEROPLANE_CLIENT_SECRET_KEY",
  clientSecretKeyFile: "ZEROPLANE_CLIENT_SECRET_KEY_FILE",
  clientPublicKey: "ZEROPLANE_CLIENT_PUBLIC_KEY",
  clientPublicKeyFile: "ZEROPLANE_CLIENT_PUBLIC_KEY_FILE",
  /** Per-call deadline in milliseconds, retries included. */
  timeoutMs: "ZEROPLANE_CLIENT_TIMEOUT_MS",
  /** A YAML client config file. */
  config: "ZEROPLANE_CLIENT_CONFIG",
} as const;

/** A config path such as `server.maxAgents`. */
export type ConfigKey = keyof typeof ENV_VARS;
/** An environment variable name such as `ZEROPLANE_SERVER_MAX_AGENTS`. */
export type EnvVarName = (typeof ENV_VARS)[ConfigKey];

/** A config error that names the key, the bad value and the fix. */
export class ConfigError extends Error {
  constructor(
    message: string,
    /** Config path or environment variable at fault. */
    readonly key: string,
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

export interface LoadConfigOptions {
  /** Path of a YAML or JSON config file. @default the file named by ZEROPLANE_CONFIG, if set */
  readonly file?: string;
  /** Environment to read `ZEROPLANE_*` variables from. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Values applied after the environment (for example from CLI flags). */
  readonly overrides?: ZeroplaneConfigInput;
}

/** Loads, merges and validates the configuration. Throws ConfigError on any problem. */
export function loadConfig(options: LoadConfigOptions = {}): ZeroplaneConfig {
  const env = options.env ?? process.env;
  const merged = defaultConfig() as unknown as Record<string, Record<string, unknown>>;
  const file = options.file ?? env[CONFIG_FILE_ENV];
  if (file) mergeLayer(merged, readConfigFile(file), `config file ${file}`);
  mergeLayer(merged, readEnv(env), "environment");
  if (options.overrides) mergeLayer(merged, options.overrides as Record<string, unknown>, "overrides");
  const config = validate(merged);
  checkSecurity(config);
  return config;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(
      `cannot read config file ${path}: ${(error as Error).message}. Fix: point ${CONFIG_FILE_ENV} or --config at a readable YAML or JSON file.`,
      CONFIG_FILE_ENV,
    );
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new ConfigError(
      `config file ${path} is not valid YAML or JSON: ${(error as Error).message}`,
      CONFIG_FILE_ENV,
    );
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError(
      `config file ${path} must hold a mapping of sections (server, security, runner, http, nats, log), not ${Array.isArray(parsed) ? "a list" : typeof parsed}`,
      CONFIG_FILE_ENV,
    );
  }
  return parsed as Record<string, unknown>;
}

function mergeLayer(
  target: Record<string, Record<string, unknown>>,
  layer: Record<string, unknown>,
  source: string,
): void {
  for (const [section, values] of Object.entries(layer)) {
    const current = target[section];
    if (!current) {
      throw new ConfigError(
        `unknown config section "${section}" in ${source}. Fix: use one of ${Object.keys(target).join(", ")}.`,
        section,
      );
    }
    if (values === undefined) continue;
    if (values === null || typeof values !== "object" || Array.isArray(values)) {
      throw new ConfigError(
        `config section "${section}" in ${source} must be a mapping of keys to values`,
        section,
      );
    }
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) continue;
      if (!(`${section}.${key}` in ENV_VARS)) {
        throw new ConfigError(
          `unknown config key "${section}.${key}" in ${source}. Fix: remove it, or use one of ${Object.keys(current).join(", ")}${describeOptionalKeys(section)}.`,
          `${section}.${key}`,
        );
      }
      current[key] = value;
    }
  }
}

function describeOptionalKeys(section: string): string {
  const optional = Object.keys(ENV_VARS)
    .filter((key) => key.startsWith(`${section}.`))
    .map((key) => key.slice(section.length + 1));
  return optional.length ? ` (all keys: ${optional.join(", ")})` : "";
}

/** Reads `ZEROPLANE_*` variables into a layer, converting each to its key's type. */
function readEnv(env: NodeJS.ProcessEnv): Record<string, Record<string, unknown>> {
  const defaults = defaultConfig() as unknown as Record<string, Record<string, unknown>>;
  const layer: Record<string, Record<string, unknown>> = {};
  const known = new Set<string>([...Object.values(ENV_VARS), ...Object.values(CLIENT_ENV_VARS)]);
  for (const name of Object.keys(env)) {
    if (name.startsWith("ZEROPLANE_") && !known.has(name) && name !== CONFIG_FILE_ENV) {
      throw new ConfigError(
        `unknown environment variable ${name}. Fix: remove it, or use one of the names in runtime/config (for example ${ENV_VARS["server.bind"]}).`,
        name,
      );
    }
  }
  for (const [path, name] of Object.entries(ENV_VARS)) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    const [section, key] = path.split(".") as [string, string];
    const kind = envKind(section, key, defaults);
    (layer[section] ??= {})[key] = convertEnv(raw, kind, name);
  }
  return layer;
}

type EnvKind = "string" | "number" | "boolean" | "list";

function envKind(section: string, key: string, defaults: Record<string, Record<string, unknown>>): EnvKind {
  const shape = (configSchema.shape as Record<string, z.ZodObject>)[section]?.shape as
    Record<string, z.ZodType> | undefined;
  const fieldSchema = shape?.[key];
  const sample = defaults[section]?.[key];
  if (Array.isArray(sample)) return "list";
  if (typeof sample === "number") return "number";
  if (typeof sample === "boolean") return "boolean";
  if (fieldSchema && fieldSchema instanceof z.ZodOptional) {
    const inner = fieldSchema.unwrap();
    if (inner instanceof z.ZodNumber) return "number";
    if (inner instanceof z.ZodBoolean) return "boolean";
  }
  return "string";
}

function convertEnv(raw: string, kind: EnvKind, name: string): unknown {
  switch (kind) {
    case "number": {
      const value = Number(raw);
      if (!Number.isFinite(value)) {
        throw new ConfigError(
          `${name}="${raw}" is not a number. Fix: set it to a whole number such as 100.`,
          name,
        );
      }
      return value;
    }
    case "boolean": {
      if (/^(true|1|yes|on)$/i.test(raw)) return true;
      if (/^(false|0|no|off)$/i.test(raw)) return false;
      throw new ConfigError(`${name}="${raw}" is not a boolean. Fix: set it to true or false.`, name);
    }
    case "list":
      return raw
        .split(",")
        .map((part) => part.trim())
        .filter(Boolean);
    default:
      return raw;
  }
}

function validate(merged: unknown): ZeroplaneConfig {
  const result = configSchema.safeParse(merged);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.join(".");
  const envName = (ENV_VARS as Record<string, string>)[path];
  const value = issue.path.reduce<unknown>(
    (node, part) => (node as Record<string | number, unknown> | undefined)?.[part as string],
    merged,
  );
  throw new ConfigError(
    `invalid config "${path}"${envName ? ` (${envName})` : ""}: ${issue.message}; got ${describeValue(path, value)}. Fix: correct it in the config file or environment.`,
    path,
  );
}

/** Config keys whose values are secret: errors describe them without echoing them. */
const SECRET_KEYS: ReadonlySet<string> = new Set(["security.secretKey"]);

/** A value for an error message, with secrets and URL credentials redacted (errors end up in logs). */
function describeValue(path: string, value: unknown): string {
  if (SECRET_KEYS.has(path.split(".").slice(0, 2).join("."))) {
    return typeof value === "string" ? `a secret of ${value.length} characters (not shown)` : typeof value;
  }
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === "string" ? item.replace(/(\/\/)[^/@\s]*@/g, "$1[redacted]@") : item,
  );
}

/** NATS command intake bypasses CURVE and ZAP, so it needs an authenticated NATS connection. */
function checkCommandIntake(config: ZeroplaneConfig): void {
  const nats = config.nats;
  if (!nats.enabled || !nats.commands || config.security.allowInsecure) return;
  const authenticated = Boolean(nats.userFile || nats.tokenFile || nats.nkeySeedFile || nats.credsFile);
  if (authenticated || nats.urls.every(isLoopbackNatsUrl)) return;
  throw new ConfigError(
    `NATS command intake (${ENV_VARS["nats.commands"]}=true) would let anyone who can reach ${nats.urls.join(", ")} spawn and control agents, because no NATS credentials are set. Fix: set ${ENV_VARS["nats.userFile"]} and ${ENV_VARS["nats.passwordFile"]}, ${ENV_VARS["nats.tokenFile"]}, ${ENV_VARS["nats.nkeySeedFile"]} or ${ENV_VARS["nats.credsFile"]}; or turn command intake off; or set ${ENV_VARS["security.allowInsecure"]}=true if you accept the risk.`,
    "nats.commands",
  );
}

/** Returns true when a tcp:// endpoint binds only to the loopback interface. */
export function isLoopbackEndpoint(endpoint: string): boolean {
  if (endpoint.startsWith("ipc://") || endpoint.startsWith("inproc://")) return true;
  const host = endpoint.replace(/^tcp:\/\//, "").replace(/:[^:]*$/, "");
  return (
    host === "127.0.0.1" ||
    host === "localhost" ||
    host === "[::1]" ||
    host === "::1" ||
    host.startsWith("127.")
  );
}

/** True when a NATS URL points at this machine only. */
function isLoopbackNatsUrl(url: string): boolean {
  const host = url
    .replace(/^[a-z]+:\/\//, "")
    .replace(/^[^@]*@/, "")
    .replace(/[:/].*$/, "");
  return host === "127.0.0.1" || host === "localhost" || host.startsWith("127.");
}

/**
 * Refuses a plaintext ZeroMQ listener beyond loopback, and NATS command intake from an
 * unauthenticated NATS beyond loopback, unless explicitly allowed.
 */
function checkSecurity(config: ZeroplaneConfig): void {
  checkCommandIntake(config);
  if (config.security.curve) {
    if (config.security.secretKey && config.security.secretKeyFile) {
      throw new ConfigError(
        `both ${ENV_VARS["security.secretKey"]} and ${ENV_VARS["security.secretKeyFile"]} are set. Fix: set only one (prefer the file, mounted from a Secret).`,
        "security.secretKey",
      );
    }
    return;
  }
  const exposed = [config.server.bind, config.server.publishBind].filter((e) => !isLoopbackEndpoint(e));
  if (exposed.length && !config.security.allowInsecure) {
    throw new ConfigError(
      `CURVE is off but ${exposed.join(" and ")} binds beyond loopback, which would serve plaintext to the network. Fix: turn CURVE on (${ENV_VARS["security.curve"]}=true with a secret key), bind to 127.0.0.1, or set ${ENV_VARS["security.allowInsecure"]}=true if you accept the risk.`,
      "security.curve",
    );
  }
}

/** The environment variable for a config key. Typed, so a typo fails to compile. */
export function envVar(key: ConfigKey): EnvVarName {
  return ENV_VARS[key];
}
