/**
 * `zeroplane server`: runs an agent server in this process. With no flags it is a local sandbox:
 * loopback only (ROUTER 127.0.0.1:5555, PUB :5556, HTTP :9090) and CURVE off, so one command gets
 * a new user going. Give --secret-key-file (and --allowlist-file) to turn CURVE on. Settings from
 * ZEROPLANE_* variables or --config win over these sandbox defaults; flags win over everything.
 */
import { readFileSync } from "node:fs";
import { Option, type Command } from "commander";
import { parse as parseYaml } from "yaml";
import {
  CONFIG_FILE_ENV,
  ConfigError,
  DEFAULT_PORTS,
  ENV_VARS,
  configSchema,
  type ConfigKey,
  type ZeroplaneConfigInput,
} from "../../config/index.js";
import { CliError, EXIT_CODES, action, exitCodeFor, parsePositiveInt } from "../shared.js";

interface ServerFlags {
  readonly bind?: string;
  readonly publishBind?: string;
  readonly httpHost?: string;
  readonly httpPort?: number;
  readonly id?: string;
  readonly secretKeyFile?: string;
  readonly allowlistFile?: string;
  readonly maxAgents?: number;
  readonly stateDir?: string;
  readonly logLevel?: string;
  readonly config?: string;
}

/** The sandbox defaults, used for each key that neither the environment nor the config file sets. */
export const LOCAL_SERVER_DEFAULTS = {
  bind: `tcp://127.0.0.1:${DEFAULT_PORTS.router}`,
  publishBind: `tcp://127.0.0.1:${DEFAULT_PORTS.stream}`,
  httpHost: "127.0.0.1",
} as const;

/** Which config keys the environment or the config file already sets. */
function setElsewhere(env: NodeJS.ProcessEnv): (key: ConfigKey) => boolean {
  let file: Record<string, Record<string, unknown> | undefined> = {};
  const path = env[CONFIG_FILE_ENV];
  if (path) {
    try {
      file = (parseYaml(readFileSync(path, "utf8")) ?? {}) as typeof file;
    } catch {
      // loadConfig reports an unreadable or invalid file with the fix; nothing to add here.
    }
  }
  return (key) => {
    const [section, name] = key.split(".") as [string, string];
    return env[ENV_VARS[key]] !== undefined || file?.[section]?.[name] !== undefined;
  };
}

/** The overrides `zeroplane server` passes to the server for these flags and this environment. */
export function serverOverrides(flags: ServerFlags, env: NodeJS.ProcessEnv): ZeroplaneConfigInput {
  const isSet = setElsewhere(env);
  const fallback = <T>(key: ConfigKey, value: T): T | undefined => (isSet(key) ? undefined : value);
  const keyed =
    Boolean(flags.secretKeyFile) || isSet("security.secretKeyFile") || isSet("security.secretKey");
  return {
    server: {
      bind: flags.bind ?? fallback("server.bind", LOCAL_SERVER_DEFAULTS.bind),
      publishBind: flags.publishBind ?? fallback("server.publishBind", LOCAL_SERVER_DEFAULTS.publishBind),
      id: flags.id,
      maxAgents: flags.maxAgents,
    },
    http: {
      host: flags.httpHost ?? fallback("http.host", LOCAL_SERVER_DEFAULTS.httpHost),
      port: flags.httpPort,
    },
    security: {
      secretKeyFile: flags.secretKeyFile,
      allowlistFile: flags.allowlistFile,
      curve: flags.secretKeyFile ? true : keyed || isSet("security.curve") ? undefined : false,
    },
    runner: { stateDir: flags.stateDir },
    log: flags.logLevel ? { level: flags.logLevel as "info" } : {},
  };
}

/** The config key each flag sets, so an error about that key can name the flag the user typed. */
const FLAG_KEYS: ReadonlyArray<[keyof ServerFlags, string, ConfigKey]> = [
  ["bind", "--bind", "server.bind"],
  ["publishBind", "--publish-bind", "server.publishBind"],
  ["httpHost", "--http-host", "http.host"],
  ["httpPort", "--http-port", "http.port"],
  ["id", "--id", "server.id"],
  ["secretKeyFile", "--secret-key-file", "security.secretKeyFile"],
  ["allowlistFile", "--allowlist-file", "security.allowlistFile"],
  ["maxAgents", "--max-agents", "server.maxAgents"],
  ["stateDir", "--state-dir", "runner.stateDir"],
  ["logLevel", "--log-level", "log.level"],
];

/**
 * A startup error about a setting the user gave as a flag names the flag instead of the
 * environment variable: `--bind` is what they typed and what they must change.
 */
export function blameFlags(error: unknown, flags: ServerFlags): unknown {
  if (!(error instanceof Error) || error instanceof CliError) return error;
  let message = error.message;
  for (const [flag, name, key] of FLAG_KEYS) {
    if (flags[flag] === undefined) continue;
    const envName = ENV_VARS[key];
    if (error instanceof ConfigError && (error.key === key || error.key === envName)) {
      message = message.replace("correct it in the config file or environment", `correct ${name}`);
    }
    message = message.replaceAll(envName, name);
  }
  if (message === error.message) return error;
  return error instanceof ConfigError
    ? new ConfigError(message, error.key)
    : new CliError(message, exitCodeFor(error));
}

const LOG_LEVELS = configSchema.shape.log.shape.level.options;

/** Parses --http-port: a TCP port, 0 for any free one. */
function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) {
    throw new CliError(
      `--http-port must be a port number from 0 to 65535 (0 picks a free port), got "${value}".`,
      EXIT_CODES.usage,
    );
  }
  return port;
}

export function register(program: Command): void {
  program
    .command("server")
    .description("run an agent server here (default: loopback only, CURVE off)")
    .option("--bind <endpoint>", `ROUTER endpoint (default ${LOCAL_SERVER_DEFAULTS.bind})`)
    .option("--publish-bind <endpoint>", `PUB endpoint (default ${LOCAL_SERVER_DEFAULTS.publishBind})`)
    .option(
      "--http-host <host>",
      `host for /healthz, /readyz, /metrics (default ${LOCAL_SERVER_DEFAULTS.httpHost})`,
    )
    .option(
      "--http-port <port>",
      `port for /healthz, /readyz, /metrics (default ${DEFAULT_PORTS.http}; 0 picks a free port)`,
      parsePort,
    )
    .option("--id <id>", "server id (default: the host name)")
    .option("--secret-key-file <path>", "server CURVE secret key (from zeroplane keygen); turns CURVE on")
    .option("--allowlist-file <path>", "client public keys allowed in, one per line (needed with CURVE)")
    .option("--max-agents <n>", "most agents running at once", parsePositiveInt("--max-agents"))
    .option("--state-dir <dir>", "writable directory for agent records")
    .addOption(
      new Option("--log-level <level>", "how much the server logs (default info)").choices(LOG_LEVELS),
    )
    .option("-c, --config <file>", `server config file, YAML or JSON (env ${CONFIG_FILE_ENV})`)
    .action(
      action(async (flags: ServerFlags) => {
        if (flags.config) process.env[CONFIG_FILE_ENV] = flags.config;
        const overrides = serverOverrides(flags, process.env);
        // Loaded here so the other commands start without loading the server.
        const { runServerProcess } = await import("../../server/main.js");
        try {
          await runServerProcess(overrides);
        } catch (error) {
          throw blameFlags(error, flags);
        }
        const curve = overrides.security?.curve === false ? "CURVE off, loopback only" : "CURVE on";
        process.stderr.write(
          `zeroplane server running (${curve}). Try: zeroplane spawn -- echo hello; zeroplane list. Stop with Ctrl-C.\n`,
        );
      }),
    );
}
