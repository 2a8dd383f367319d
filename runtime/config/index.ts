/**
 * The agent server's configuration loader: one schema, defaults, and the file and environment layers.
 *
 * Precedence: built-in defaults, then a config file (YAML or JSON), then `ZEROPLANE_*`
 * environment variables. The names it reads (environment variables, config keys, ports, paths)
 * live in ./names.ts, which the deployment kit imports; this module re-exports them so runtime
 * code has one import.
 */
import { readFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import {
  AGENT_DEFAULT_GID,
  AGENT_DEFAULT_UID,
  CLIENT_ENV_VARS,
  CONFIG_FILE_ENV,
  DEFAULT_PATHS,
  DEFAULT_PORTS,
  ENV_VARS,
  RUNNER_MODES,
  SHARED_DEFAULTS,
  Z85_KEY_PATTERN,
} from "./names.js";
import { MAX_TIMER_MS } from "../protocol/limits.js";

export * from "./names.js";

const MiB = 1024 * 1024;

const zmqEndpoint = z
  .string()
  .regex(/^(tcp|ipc|inproc):\/\/.+$/, "must be a ZeroMQ endpoint such as tcp://0.0.0.0:5555");
const z85Key = z.string().regex(Z85_KEY_PATTERN, "must be a 40-character Z85 key");
const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
/** Durations that end up in timers: setTimeout fires at once past MAX_TIMER_MS (about 24.8 days). */
const timerMessage = `must be at most ${MAX_TIMER_MS} ms (about 24.8 days), the longest timer Node honours`;
const durationMs = nonNegativeInt.max(MAX_TIMER_MS, timerMessage);
const positiveDurationMs = positiveInt.max(MAX_TIMER_MS, timerMessage);
/** libzmq's ZMQ_HEARTBEAT_TTL ceiling (deciseconds in a 16-bit field). */
const MAX_HEARTBEAT_TTL_MS = 6_553_599;

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
    idempotencyWindowMs: positiveDurationMs,
    requestTimeoutMs: positiveDurationMs,
    shutdownGraceMs: positiveDurationMs,
    agentDrainMs: durationMs,
    stopAgentsOnShutdown: z.boolean(),
    heartbeatIntervalMs: durationMs,
    heartbeatTimeoutMs: durationMs,
    heartbeatTtlMs: nonNegativeInt.max(
      MAX_HEARTBEAT_TTL_MS,
      `must be at most ${MAX_HEARTBEAT_TTL_MS} ms (libzmq ZMQ_HEARTBEAT_TTL)`,
    ),
    sendHighWaterMark: nonNegativeInt,
    publishHighWaterMark: positiveInt,
    receiveHighWaterMark: nonNegativeInt,
    handshakeTimeoutMs: durationMs,
  })
  .strict()
  // The shutdown budget (agentDrainMs + shutdownGraceMs) ends up in one timer: bound the sum too.
  .superRefine((server, context) => {
    if (server.agentDrainMs + server.shutdownGraceMs > MAX_TIMER_MS) {
      context.addIssue({
        code: "custom",
        path: ["agentDrainMs"],
        message: `agentDrainMs + shutdownGraceMs (${server.agentDrainMs + server.shutdownGraceMs} ms) ${timerMessage}`,
      });
    }
  });

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
    retentionMs: durationMs,
    /** Bytes of retained output and agent records; 0 derives it from the container memory limit. */
    memoryBudgetBytes: nonNegativeInt,
    stopGraceMs: positiveDurationMs,
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
    maxBytes: nonNegativeInt,
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
    reconnectWaitMs: positiveDurationMs,
    registry: z.boolean(),
    registryPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/, "must be 1-32 letters, digits, '-' or '_' (it names KV buckets)"),
    heartbeatIntervalMs: positiveDurationMs,
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
      publishBind: `tcp://0.0.0.0:${DEFAULT_PORTS.stream}`,
      maxMessageBytes: 10 * MiB,
      maxAgents: SHARED_DEFAULTS["server.maxAgents"],
      idempotencyWindowMs: 10 * 60_000,
      requestTimeoutMs: 30_000,
      shutdownGraceMs: SHARED_DEFAULTS["server.shutdownGraceMs"],
      // On SIGTERM, how long running agents may keep running before they are stopped (0: stop at once).
      agentDrainMs: SHARED_DEFAULTS["server.agentDrainMs"],
      stopAgentsOnShutdown: true,
      heartbeatIntervalMs: 5_000,
      heartbeatTimeoutMs: 15_000,
      heartbeatTtlMs: 30_000,
      sendHighWaterMark: 10_000,
      // Stream events are at most 256 KiB (COALESCE_BYTES): at most 256 MiB queued per slow subscriber.
      publishHighWaterMark: 1_000,
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
      memoryBudgetBytes: 0,
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
      replicas: SHARED_DEFAULTS["nats.replicas"],
      maxAgeMs: 7 * 24 * 3_600_000,
      // The stream's byte limit (oldest events discarded beyond it); 0: no limit. Keep it below the
      // NATS servers' max_file_store, itself below their volume (the constructs derive both).
      maxBytes: 0,
      storage: "file",
      commands: false,
      commandSubjectPrefix: "agent.commands",
      queueGroup: "zeroplane",
      spoolMaxBytes: 64 * MiB,
      spoolFullPolicy: "refuse-spawns",
      reconnectWaitMs: 2_000,
      // The cluster registry (docs/events.md): on whenever NATS is; a lost agent reads lost within 3 intervals.
      registry: true,
      registryPrefix: "ZEROPLANE",
      heartbeatIntervalMs: 2_000,
    },
    log: { level: SHARED_DEFAULTS["log.level"] },
  };
}

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
 * The one security check, run by loadConfig and again by startServer (whose config may not come from
 * loadConfig). Refuses a plaintext ZeroMQ listener beyond loopback, and NATS command intake from an
 * unauthenticated NATS beyond loopback, unless explicitly allowed. With scope "server" (serving, not
 * only reading the config) CURVE also needs a client allowlist.
 */
export function checkSecurity(config: ZeroplaneConfig, scope: "config" | "server" = "config"): void {
  checkCommandIntake(config);
  if (config.security.curve) {
    if (config.security.secretKey && config.security.secretKeyFile) {
      throw new ConfigError(
        `both ${ENV_VARS["security.secretKey"]} and ${ENV_VARS["security.secretKeyFile"]} are set. Fix: set only one (prefer the file, mounted from a Secret).`,
        "security.secretKey",
      );
    }
    if (scope === "server" && !config.security.allowlistFile) {
      throw new ConfigError(
        `CURVE is on but no client allowlist is configured. Fix: set ${ENV_VARS["security.allowlistFile"]} to a file with one client public key (Z85) per line.`,
        "security.allowlistFile",
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
