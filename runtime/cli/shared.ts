/**
 * What every `zeroplane` command shares: the client flags, where endpoint and keys come from
 * (flags, then environment, then a YAML config file), output as a table or JSON, and exit codes.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Command, CommanderError, Option } from "commander";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { CLIENT_ENV_VARS, CONFIG_FILE_ENV, ConfigError, DEFAULT_PORTS, ENV_VARS } from "../config/index.js";
import {
  PLACEMENT_STRATEGIES,
  RemoteError,
  UnreachableError,
  ZeroplaneClient,
  ZeroplaneClientError,
  resolveCurveKeys,
  splitEndpoints,
  type ClientOptions,
  type CurveKeySources,
  type PlacementStrategy,
  type ServerOutcome,
} from "../client/index.js";
import { activeContext, type Context } from "./contexts.js";
import { CliError, EXIT_CODES } from "./errors.js";

export { CliError, EXIT_CODES, EXIT_CODES_HELP } from "./errors.js";

/** The default endpoint: a server started with `zeroplane server` on this machine. */
export const DEFAULT_ENDPOINT = `tcp://127.0.0.1:${DEFAULT_PORTS.router}`;

/** The flags of every command that talks to a server. */
export interface ClientFlags {
  readonly endpoint?: string[];
  readonly publishEndpoint?: string[];
  readonly serverKey?: string;
  readonly serverKeyFile?: string;
  readonly clientKeyFile?: string;
  readonly clientPublicKeyFile?: string;
  readonly config?: string;
  readonly context?: string;
  readonly timeout?: number;
  readonly placement?: PlacementStrategy;
  readonly json?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function parsePositiveInt(flag: string) {
  return (value: string): number => {
    const number = Number(value);
    if (!Number.isInteger(number) || number <= 0) {
      throw new CliError(`${flag} must be a whole number above 0, got "${value}".`, EXIT_CODES.usage);
    }
    return number;
  };
}

/** Adds the connection flags (and --json) to a command. */
export function withClientOptions(command: Command): Command {
  return command
    .option(
      "-e, --endpoint <endpoint>",
      `server endpoint, repeatable or comma-separated: tcp://host:port or dns://name:port (env ${CLIENT_ENV_VARS.endpoints}; default ${DEFAULT_ENDPOINT})`,
      collect,
    )
    .option(
      "--publish-endpoint <endpoint>",
      `server PUB endpoint, one per --endpoint in order (env ${CLIENT_ENV_VARS.publishEndpoints}; default: endpoint port + 1)`,
      collect,
    )
    .option("--server-key <z85>", `the server's CURVE public key (env ${CLIENT_ENV_VARS.serverPublicKey})`)
    .option(
      "--server-key-file <path>",
      `file with the server's CURVE public key (env ${CLIENT_ENV_VARS.serverPublicKeyFile})`,
    )
    .option(
      "--client-key-file <path>",
      `file with this client's CURVE secret key (env ${CLIENT_ENV_VARS.clientSecretKeyFile})`,
    )
    .option(
      "--client-public-key-file <path>",
      `file with this client's CURVE public key (env ${CLIENT_ENV_VARS.clientPublicKeyFile}; default: derived from the secret key)`,
    )
    .option("-c, --config <file>", `YAML client config file (env ${CLIENT_ENV_VARS.config})`)
    .option(
      "--context <name>",
      `use this context instead of the current one (env ${CLIENT_ENV_VARS.context}; zeroplane context list)`,
    )
    .option(
      "-t, --timeout <ms>",
      `give up after this many milliseconds, retries included (env ${CLIENT_ENV_VARS.timeoutMs}; default 30000)`,
      parsePositiveInt("--timeout"),
    )
    .addOption(new Option("--placement <strategy>", "where new agents go").choices([...PLACEMENT_STRATEGIES]))
    .option("--json", "print JSON for machines instead of tables");
}

/** The client config file: the same settings as the flags, in YAML. */
const clientFileSchema = z
  .object({
    endpoints: z.union([z.string(), z.array(z.string())]).optional(),
    publishEndpoints: z.array(z.string()).optional(),
    serverPublicKey: z.string().optional(),
    serverPublicKeyFile: z.string().optional(),
    clientSecretKey: z.string().optional(),
    clientSecretKeyFile: z.string().optional(),
    clientPublicKey: z.string().optional(),
    clientPublicKeyFile: z.string().optional(),
    timeoutMs: z.number().int().positive().optional(),
    placement: z.enum(PLACEMENT_STRATEGIES as [PlacementStrategy, ...PlacementStrategy[]]).optional(),
  })
  .strict();
export type ClientConfigFile = z.infer<typeof clientFileSchema>;

/** Reads and checks a client config file; relative key paths are taken from the file's folder. */
export function readClientConfigFile(path: string): ClientConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new CliError(
      `cannot read the config file ${path}: ${(error as Error).message}. Fix: check the --config path.`,
      EXIT_CODES.usage,
    );
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text) ?? {};
  } catch (error) {
    throw new CliError(
      `the config file ${path} is not valid YAML: ${(error as Error).message}`,
      EXIT_CODES.usage,
    );
  }
  const result = clientFileSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.join(".") || "(top level)";
    throw new CliError(
      `the config file ${path} has a bad entry at "${where}": ${issue.message}. Fix: use the keys ${Object.keys(clientFileSchema.shape).join(", ")}.`,
      EXIT_CODES.usage,
    );
  }
  const base = dirname(resolve(path));
  const file = { ...result.data };
  for (const key of ["serverPublicKeyFile", "clientSecretKeyFile", "clientPublicKeyFile"] as const) {
    if (file[key]) file[key] = resolve(base, file[key]);
  }
  return file;
}

/**
 * The client options from flags, then the environment, then the config file, then the context
 * (`--context`, ZEROPLANE_CONTEXT or the current one), then defaults. Each setting comes whole from
 * the first place that has it.
 */
export function resolveClientOptions(
  flags: ClientFlags,
  env: NodeJS.ProcessEnv = process.env,
): ClientOptions {
  checkEnvNames(env);
  const configPath = flags.config ?? env[CLIENT_ENV_VARS.config];
  const file: ClientConfigFile = configPath ? readClientConfigFile(configPath) : {};
  const context: Partial<Context> = activeContext(flags.context, env)?.context ?? {};
  const fromEnv = (name: string) => (env[name] ? env[name] : undefined);
  const given = (layer: string | readonly string[] | undefined): layer is string | readonly string[] =>
    layer !== undefined && layer.length > 0;
  const endpointLayers = [
    flags.endpoint,
    fromEnv(CLIENT_ENV_VARS.endpoints),
    file.endpoints,
    context.endpoints,
  ];
  const endpointLayer = endpointLayers.findIndex(given);
  const endpointList =
    endpointLayer === -1 ? [DEFAULT_ENDPOINT] : splitEndpoints(endpointLayers[endpointLayer]!);
  const publishLayers = [
    flags.publishEndpoint,
    fromEnv(CLIENT_ENV_VARS.publishEndpoints),
    file.publishEndpoints,
    // A context's PUB endpoints belong to its own endpoints, not to endpoints from another layer.
    endpointLayer === 3 ? context.publishEndpoints : undefined,
  ];
  const publishLayer = publishLayers.find(given);
  const publishList = publishLayer === undefined ? undefined : splitEndpoints(publishLayer);

  // Keys: a layer that names the server key (directly or as a file) decides all of them,
  // so a flag never mixes with a stale key from the environment.
  const flagKeys: CurveKeySources = {
    serverPublicKey: flags.serverKey,
    serverPublicKeyFile: flags.serverKeyFile,
    clientSecretKeyFile: flags.clientKeyFile,
    clientPublicKeyFile: flags.clientPublicKeyFile,
  };
  const envKeys: CurveKeySources = {
    serverPublicKey: fromEnv(CLIENT_ENV_VARS.serverPublicKey),
    serverPublicKeyFile: fromEnv(CLIENT_ENV_VARS.serverPublicKeyFile),
    clientSecretKey: fromEnv(CLIENT_ENV_VARS.clientSecretKey),
    clientSecretKeyFile: fromEnv(CLIENT_ENV_VARS.clientSecretKeyFile),
    clientPublicKey: fromEnv(CLIENT_ENV_VARS.clientPublicKey),
    clientPublicKeyFile: fromEnv(CLIENT_ENV_VARS.clientPublicKeyFile),
  };
  const names = (s: CurveKeySources) => Boolean(s.serverPublicKey || s.serverPublicKeyFile);
  const keySources =
    [flagKeys, envKeys, file, context as CurveKeySources].find((layer) => names(layer)) ?? flagKeys;

  let timeoutMs = flags.timeout ?? file.timeoutMs ?? context.timeoutMs ?? 30_000;
  const envTimeout = fromEnv(CLIENT_ENV_VARS.timeoutMs);
  if (flags.timeout === undefined && envTimeout !== undefined) {
    timeoutMs = parsePositiveInt(CLIENT_ENV_VARS.timeoutMs)(envTimeout);
  }
  return {
    endpoints: endpointList,
    publishEndpoints: publishList,
    curve: resolveCurveKeys(keySources),
    timeoutMs,
    attemptTimeoutMs: Math.min(10_000, timeoutMs),
    placement: flags.placement ?? file.placement ?? context.placement,
    // One-shot commands do not need background load refreshes.
    healthRefreshMs: 0,
  };
}

/** Every ZEROPLANE_* name the client or the server reads: one shell may hold both. */
const KNOWN_ENV_NAMES: ReadonlySet<string> = new Set([
  ...Object.values(CLIENT_ENV_VARS),
  ...Object.values(ENV_VARS),
  CONFIG_FILE_ENV,
]);

/**
 * Refuses a misspelled ZEROPLANE_* variable, as the server does: ignoring it would silently
 * use a default endpoint or no keys. Suggests the closest known name.
 */
export function checkEnvNames(env: NodeJS.ProcessEnv): void {
  for (const name of Object.keys(env)) {
    if (!name.startsWith("ZEROPLANE_") || KNOWN_ENV_NAMES.has(name)) continue;
    const closest = [...KNOWN_ENV_NAMES].sort((a, b) => editDistance(name, a) - editDistance(name, b))[0];
    throw new CliError(
      `unknown environment variable ${name}. Fix: remove it, or use ${closest} if that is what you meant (the client reads ${Object.values(CLIENT_ENV_VARS).join(", ")}).`,
      EXIT_CODES.usage,
    );
  }
}

/** Levenshtein distance, for "did you mean" suggestions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** How long every server may refuse connections before a command gives up (exit 3). */
export const REFUSED_GIVE_UP_MS = 3_000;
/** How long a command waits for a first connection before it says so on stderr, and how often after. */
export const WAITING_NOTICE_MS = 2_000;

/**
 * Connects with the command's flags, runs `work`, and always closes the client. Until a first
 * server connects, says on stderr what it is waiting for, and gives up with exit 3 once every
 * server has refused connections for REFUSED_GIVE_UP_MS (nothing listens there).
 */
export async function withClient<T>(
  flags: ClientFlags,
  work: (client: ZeroplaneClient) => Promise<T>,
): Promise<T> {
  const client = await ZeroplaneClient.connect(resolveClientOptions(flags));
  const watch = watchFirstConnection(client, Boolean(flags.json));
  try {
    return await Promise.race([work(client), watch.gaveUp]);
  } finally {
    watch.stop();
    client.close();
  }
}

function watchFirstConnection(
  client: ZeroplaneClient,
  quiet: boolean,
): { gaveUp: Promise<never>; stop(): void } {
  const startedAt = Date.now();
  let nextNotice = startedAt + WAITING_NOTICE_MS;
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<never>((_resolve, reject) => {
    timer = setInterval(() => {
      const servers = client.servers();
      // Once a server has answered, the command's own timeouts and retries take over.
      if (servers.some((server) => server.connected)) return clearInterval(timer);
      if (servers.every((server) => server.downForMs >= REFUSED_GIVE_UP_MS)) {
        clearInterval(timer);
        const endpoints = servers.map((server) => server.endpoint).join(", ");
        reject(
          new UnreachableError(
            `cannot reach ${endpoints}: connection refused for ${Math.round((Date.now() - startedAt) / 1000)} s, so no server is listening there. Fix: check that the server is running (zeroplane server) and the endpoint is right (--endpoint or ${CLIENT_ENV_VARS.endpoints}).`,
            servers[0]?.endpoint,
          ),
        );
        return;
      }
      if (!quiet && Date.now() >= nextNotice) {
        nextNotice += WAITING_NOTICE_MS;
        const states = servers
          .map(
            (server) =>
              `${server.endpoint} (${server.downForMs > 0 ? "connection refused, retrying" : "connecting"})`,
          )
          .join(", ");
        process.stderr.write(
          `zeroplane: waiting ${Math.round((Date.now() - startedAt) / 1000)} s for ${states}\n`,
        );
      }
    }, 100);
  });
  // The race settles the command; an unobserved rejection after that must not crash the process.
  gaveUp.catch(() => undefined);
  return { gaveUp, stop: () => clearInterval(timer) };
}

/** The exit code for an error. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof CommanderError) return EXIT_CODES.usage;
  if (error instanceof ConfigError) return EXIT_CODES.usage;
  if (error instanceof ZeroplaneClientError) {
    switch (error.kind) {
      case "server":
        return EXIT_CODES.serverError;
      case "timeout":
      case "unreachable":
        return EXIT_CODES.unreachable;
      case "auth":
        return EXIT_CODES.auth;
      case "usage":
        return EXIT_CODES.usage;
      default:
        return EXIT_CODES.serverError;
    }
  }
  return EXIT_CODES.serverError;
}

/** Writes an error for a person (stderr text) or a program (stderr JSON). */
export function reportError(error: unknown, json: boolean): void {
  const message = error instanceof Error ? error.message : String(error);
  if (json) {
    const kind =
      error instanceof ZeroplaneClientError
        ? error.kind
        : exitCodeFor(error) === EXIT_CODES.usage
          ? "usage"
          : error instanceof CliError
            ? "cli"
            : "error";
    const code = error instanceof RemoteError ? error.code : undefined;
    process.stderr.write(
      `${JSON.stringify({ error: { kind, code, message, exitCode: exitCodeFor(error) } })}\n`,
    );
  } else {
    const code = error instanceof RemoteError ? ` [${error.code}]` : "";
    process.stderr.write(`zeroplane: error${code}: ${message}\n`);
  }
}

/**
 * `zeroplane spawn ls -la` reads -la as our -l (--label) with the value "a". When spawn fails on its
 * usage and a flag follows the command with no `--`, that is the likely slip: returns that flag.
 */
function agentFlagSlip(argv: readonly string[]): string | null {
  const args = argv.slice(2);
  if (args[0] !== "spawn" || args.includes("--")) return null;
  const afterWord = args
    .slice(1)
    .findIndex((arg, i, rest) => arg.startsWith("-") && rest.slice(0, i).some((a) => !a.startsWith("-")));
  return afterWord === -1 ? null : args[afterWord + 1]!;
}

/** The hint for a spawn usage error caused by an agent's flag, or "". */
export function agentFlagHint(argv: readonly string[]): string {
  const flag = agentFlagSlip(argv);
  return flag
    ? ` Hint: if ${flag} is meant for the agent's command, put -- before the command: zeroplane spawn [options] -- <command> ${flag} ...`
    : "";
}
/** The program's command line (Commander keeps it as `rawArgs`, which its types leave out). */
function rawArgsOf(command: Command): readonly string[] {
  return (command.parent as (Command & { rawArgs?: string[] }) | null)?.rawArgs ?? [];
}

/**
 * Wraps a command action: errors are reported and turned into the exit code, never a stack trace.
 * The action may return an exit code (for example 1 when a batch partly failed).
 */
export function action<A extends unknown[]>(
  run: (...args: A) => Promise<number | void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const command = args[args.length - 1] as Command;
    const json = Boolean((command.optsWithGlobals?.() as { json?: boolean } | undefined)?.json);
    try {
      const code = await run(...args);
      if (typeof code === "number" && code !== 0) process.exitCode = code;
    } catch (error) {
      const hint = exitCodeFor(error) === EXIT_CODES.usage ? agentFlagHint(rawArgsOf(command)) : "";
      reportError(hint ? new CliError(`${(error as Error).message}${hint}`, EXIT_CODES.usage) : error, json);
      process.exitCode = exitCodeFor(error);
    }
  };
}

/** Prints a value as one JSON document (Uint8Array as UTF-8 text). */
export function printJson(value: unknown): void {
  process.stdout.write(
    `${JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString("utf8") : v), 2)}\n`,
  );
}

/** Prints per-server outcomes as JSON: each server's result under `key`, or its error message. */
export function printOutcomesJson<T>(outcomes: ReadonlyArray<ServerOutcome<T>>, key: string): void {
  printJson(
    outcomes.map((o) =>
      o.ok
        ? { endpoint: o.endpoint, ok: true, [key]: o.result }
        : { endpoint: o.endpoint, ok: false, error: o.error.message },
    ),
  );
}

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string | number | null | undefined;
}

/** Formats rows as an aligned text table with a header line. */
export function formatTable<T>(rows: readonly T[], columns: ReadonlyArray<Column<T>>): string {
  const cells = rows.map((row) => columns.map((column) => cellText(column.value(row))));
  const widths = columns.map((column, i) =>
    Math.max(column.header.length, ...cells.map((line) => line[i]!.length)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((value, i) => (i === values.length - 1 ? value : value.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join("\n") + "\n";
}

function cellText(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === "") return "-";
  return String(value).replace(/\s+/g, " ");
}

/** Key/value lines for one record. */
export function formatDetails(entries: ReadonlyArray<[string, string | number | null | undefined]>): string {
  const width = Math.max(...entries.map(([key]) => key.length));
  return entries.map(([key, value]) => `${`${key}:`.padEnd(width + 2)}${cellText(value)}`).join("\n") + "\n";
}

/** "3s", "4m", "2h", "5d": how long ago a time was. */
export function formatAge(sinceMs: number | null, now = Date.now()): string {
  if (sinceMs === null) return "-";
  const seconds = Math.max(0, Math.round((now - sinceMs) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** Parses `key=value` pairs from repeatable flags into a record. */
export function parsePairs(flag: string, pairs: readonly string[] | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const index = pair.indexOf("=");
    if (index <= 0) {
      throw new CliError(
        `${flag} expects key=value, got "${pair}". Fix: for example ${flag} team=search.`,
        EXIT_CODES.usage,
      );
    }
    result[pair.slice(0, index)] = pair.slice(index + 1);
  }
  return result;
}

export { collect as collectRepeatable };
