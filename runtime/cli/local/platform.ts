/**
 * The whole platform on one machine (`zeroplane up` / `zeroplane down`): a 3-node NATS JetStream
 * cluster and N agent servers with CURVE keys and an allowlist, events on, all on free loopback
 * ports, as background processes with their logs, keys, config and state in one directory.
 * NATS asks every client for a token and every route for a password (keys/nats.token, mode 0600),
 * so another user of the machine cannot read or write the event stream or the registry buckets.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { stringify as stringifyYaml } from "yaml";
import { z } from "zod";
import { HTTP_PATHS, type ZeroplaneConfigInput } from "../../config/index.js";
import { ZeroplaneClient, resolveCurveKeys } from "../../client/index.js";
import { writeFileWithMode } from "../../security/keys.js";
import { writeNamedKeypair } from "../commands/keygen.js";
import { contextsPath, readContexts, removeContext, saveContext, type Context } from "../contexts.js";
import { CliError, EXIT_CODES } from "../errors.js";
import {
  descendants,
  freePorts,
  isOurs,
  logTail,
  startDetached,
  stillRunning,
  stopProcesses,
  type ProcessRef,
} from "./processes.js";

/** The NATS token `up` generates, under DIR/keys; routes use it as their password. */
export const NATS_TOKEN_FILE = "nats.token";
const NATS_ROUTE_USER = "route";

/** Nodes of the NATS cluster: three, the smallest JetStream cluster that survives losing one. */
export const NATS_NODES = 3;
/** How long `up` waits for everything to answer. */
const READY_TIMEOUT_MS = 90_000;
/** How long `down` gives processes after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 20_000;
const STATE_FILE = "up.json";

const processSchema = z.object({
  role: z.enum(["nats", "server"]),
  name: z.string(),
  pid: z.number().int().positive(),
  log: z.string(),
});
const stateSchema = z.object({
  dir: z.string(),
  startedAt: z.string(),
  context: z.string(),
  processes: z.array(processSchema),
});
export type UpState = z.infer<typeof stateSchema>;
type UpProcess = z.infer<typeof processSchema>;

/** Where `up` keeps its files when no --dir is given: `$XDG_STATE_HOME/zeroplane/local`. */
export function defaultUpDir(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME)
      ? env.XDG_STATE_HOME
      : join(homedir(), ".local", "state");
  return join(base, "zeroplane", "local");
}

export function readState(dir: string): UpState | null {
  const file = join(dir, STATE_FILE);
  if (!existsSync(file)) return null;
  const parsed = stateSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
  if (!parsed.success) {
    throw new CliError(
      `${file} is not a zeroplane up state file. Fix: use another --dir, or remove the file after stopping what runs there.`,
      EXIT_CODES.usage,
    );
  }
  return parsed.data;
}

function writeState(state: UpState): void {
  writeFileWithMode(join(state.dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

/** The recorded processes still running (same pid, command line naming the directory). */
export function runningProcesses(state: UpState): UpProcess[] {
  return state.processes.filter((p) => isOurs(p.pid, state.dir));
}

/** The nats-server on PATH, or a usage error naming the package to install. */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  const found = spawnSync("sh", ["-c", "command -v nats-server"], { encoding: "utf8", env });
  if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  throw new CliError(
    "nats-server is not on PATH; zeroplane up runs a NATS JetStream cluster with it. Fix: install the Debian package nats-server (sudo apt-get install nats-server), or put a nats-server binary on PATH.",
    EXIT_CODES.usage,
  );
}

export interface UpOptions {
  readonly dir: string;
  readonly servers: number;
  readonly contextName: string;
  /** Progress lines for people. */
  readonly say: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
}

export interface UpResult {
  readonly state: UpState;
  readonly context: Context;
  readonly contextsFile: string;
  /** False when the directory was already running (nothing was started). */
  readonly started: boolean;
}

/** The environment for the children: the caller's, minus every ZEROPLANE_* setting. */
function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith("ZEROPLANE_")));
}

/** How to run this CLI again: the same node, its loader flags (tsx in development) and entry file. */
function cliCommand(): { command: string; args: string[] } {
  const entry = process.argv[1];
  if (!entry) throw new CliError("cannot tell which file runs the CLI (process.argv[1] is empty).", 1);
  return { command: process.execPath, args: [...process.execArgv, entry] };
}

/** Starts the platform in `dir`, or reports that it already runs there. */
export async function up(options: UpOptions): Promise<UpResult> {
  const env = options.env ?? process.env;
  const dir = options.dir;
  const contextsFile = contextsPath(env);
  const previous = readState(dir);
  if (previous && runningProcesses(previous).length > 0) {
    const context = readContexts(contextsFile).contexts[previous.context];
    if (!context) {
      throw new CliError(
        `zeroplane up already runs in ${dir}, but its context "${previous.context}" is gone from ${contextsFile}. Fix: zeroplane down --dir ${dir}, then zeroplane up again.`,
        EXIT_CODES.serverError,
      );
    }
    return { state: previous, context, contextsFile, started: false };
  }
  const natsServer = findNatsServer(env);
  for (const sub of ["keys", "logs", "nats", "servers"])
    mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });

  // Keys: reused when an earlier up wrote them, so saved contexts stay valid.
  const keys = join(dir, "keys");
  const serverKeyFile = join(keys, "server.key");
  const clientKeyFile = join(keys, "client.key_secret");
  if (!existsSync(serverKeyFile) || !existsSync(join(keys, "server.key_secret")))
    writeNamedKeypair(keys, "server", true);
  if (!existsSync(clientKeyFile) || !existsSync(join(keys, "client.key")))
    writeNamedKeypair(keys, "client", true);
  const allowlistFile = join(keys, "allowlist.txt");
  writeFileWithMode(allowlistFile, readFileSync(join(keys, "client.key"), "utf8"), 0o600);
  // NATS credentials: clients present the token, routes the same secret as their password.
  const natsTokenFile = join(keys, NATS_TOKEN_FILE);
  if (!existsSync(natsTokenFile))
    writeFileWithMode(natsTokenFile, `${randomBytes(32).toString("hex")}\n`, 0o600);
  const natsToken = readFileSync(natsTokenFile, "utf8").trim();

  const ports = await freePorts(NATS_NODES * 3 + options.servers * 3);
  const take = () => ports.shift()!;
  const nats = Array.from({ length: NATS_NODES }, (_, i) => ({
    name: `nats-${i + 1}`,
    client: take(),
    monitor: take(),
    cluster: take(),
  }));
  const servers = Array.from({ length: options.servers }, (_, i) => ({
    name: `local-${i + 1}`,
    router: take(),
    publish: take(),
    http: take(),
  }));
  const natsUrls = nats.map((node) => `nats://127.0.0.1:${node.client}`);

  const state: UpState = {
    dir,
    startedAt: new Date().toISOString(),
    context: options.contextName,
    processes: [],
  };
  const children = childEnv(env);
  const start = (role: UpProcess["role"], name: string, command: string, args: string[]) => {
    const log = join(dir, "logs", `${name}.log`);
    rmSync(log, { force: true });
    // The caller's working directory: loader flags such as `--import tsx` resolve from there.
    state.processes.push({
      role,
      name,
      pid: startDetached(command, args, log, children, process.cwd()),
      log,
    });
    writeState(state);
  };

  try {
    for (const node of nats) {
      const config = join(dir, "nats", `${node.name}.conf`);
      const routes = nats
        .filter((other) => other !== node)
        .map((other) => `"nats-route://${NATS_ROUTE_USER}:${natsToken}@127.0.0.1:${other.cluster}"`)
        .join(", ");
      // Holds the token: readable by this user only.
      writeFileWithMode(
        config,
        [
          `server_name: ${node.name}`,
          `listen: "127.0.0.1:${node.client}"`,
          `http: "127.0.0.1:${node.monitor}"`,
          `authorization { token: "${natsToken}" }`,
          `jetstream { store_dir: "${join(dir, "nats", node.name)}", max_file_store: 1GB, max_memory_store: 64MB }`,
          `cluster { name: zeroplane-local, listen: "127.0.0.1:${node.cluster}", authorization { user: ${NATS_ROUTE_USER}, password: "${natsToken}" }, routes: [${routes}] }`,
          "",
        ].join("\n"),
        0o600,
      );
      start("nats", node.name, natsServer, ["-c", config]);
    }
    options.say(`started a ${NATS_NODES}-node NATS JetStream cluster: ${natsUrls.join(", ")}`);
    await Promise.all(
      nats.map((node, i) =>
        waitForHttp(`http://127.0.0.1:${node.monitor}/healthz`, state.processes[i]!, state.dir),
      ),
    );

    const cli = cliCommand();
    for (const server of servers) {
      const config: ZeroplaneConfigInput = {
        server: {
          id: server.name,
          bind: `tcp://127.0.0.1:${server.router}`,
          publishBind: `tcp://127.0.0.1:${server.publish}`,
        },
        http: { host: "127.0.0.1", port: server.http },
        security: { curve: true, secretKeyFile: join(keys, "server.key_secret"), allowlistFile },
        runner: { stateDir: join(dir, "servers", server.name) },
        nats: { enabled: true, urls: natsUrls, replicas: NATS_NODES, tokenFile: natsTokenFile },
      };
      const configFile = join(dir, "servers", `${server.name}.yaml`);
      writeFileWithMode(configFile, stringifyYaml(config), 0o600);
      start("server", server.name, cli.command, [...cli.args, "server", "--config", configFile]);
    }
    const serverProcesses = state.processes.filter((p) => p.role === "server");
    await Promise.all(
      servers.map((server, i) =>
        waitForHttp(`http://127.0.0.1:${server.http}${HTTP_PATHS.readyz}`, serverProcesses[i]!, dir),
      ),
    );

    const context: Context = {
      endpoints: servers.map((server) => `tcp://127.0.0.1:${server.router}`),
      publishEndpoints: servers.map((server) => `tcp://127.0.0.1:${server.publish}`),
      serverPublicKeyFile: serverKeyFile,
      clientSecretKeyFile: clientKeyFile,
      natsUrls,
      natsTokenFile,
      upDir: dir,
    };
    await checkThroughClient(context);
    options.say(
      `started ${servers.length} agent servers (CURVE on, events on): ${context.endpoints.join(", ")}`,
    );
    saveContext(contextsFile, options.contextName, context);
    return { state, context, contextsFile, started: true };
  } catch (error) {
    await stopAll(state);
    rmSync(join(dir, STATE_FILE), { force: true });
    throw error;
  }
}

/** Polls an HTTP URL until it answers 200; fails with the process's log tail if it exits first. */
async function waitForHttp(url: string, owner: UpProcess, dir: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (!isOurs(owner.pid, dir)) {
      throw new CliError(
        `${owner.name} exited while starting. The end of its log ${owner.log}:\n${logTail(owner.log)}`,
        EXIT_CODES.serverError,
      );
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      throw new CliError(
        `${owner.name} did not answer ${url} within ${READY_TIMEOUT_MS / 1000} s. The end of its log ${owner.log}:\n${logTail(owner.log)}`,
        EXIT_CODES.unreachable,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every server answers health through CURVE with the context's keys, as the CLI will. */
async function checkThroughClient(context: Context): Promise<void> {
  const client = await ZeroplaneClient.connect({
    endpoints: [...context.endpoints],
    publishEndpoints: context.publishEndpoints ? [...context.publishEndpoints] : undefined,
    curve: resolveCurveKeys({
      serverPublicKeyFile: context.serverPublicKeyFile,
      clientSecretKeyFile: context.clientSecretKeyFile,
    }),
    timeoutMs: 30_000,
    healthRefreshMs: 0,
  });
  try {
    const outcomes = await client.clusterHealth();
    const failed = outcomes.filter((o) => !o.ok || !o.result.ready);
    if (failed.length > 0) {
      throw new CliError(
        `servers started but ${failed.map((o) => o.endpoint).join(", ")} did not answer health through CURVE: ${failed.map((o) => (o.ok ? "not ready" : o.error.message)).join("; ")}`,
        EXIT_CODES.serverError,
      );
    }
  } finally {
    client.close();
  }
}

/**
 * Stops every process of `state` that still runs: servers first (they drain and stop their agents),
 * then NATS, then any descendant left behind. SIGKILL after STOP_GRACE_MS.
 */
export async function stopAll(state: UpState): Promise<{ stopped: number; killed: string[] }> {
  const running = runningProcesses(state);
  const leftovers: ProcessRef[] = descendants(running.map((p) => p.pid));
  const alive = (p: UpProcess) => isOurs(p.pid, state.dir);
  const killed = [
    ...(await stopProcesses(
      running.filter((p) => p.role === "server"),
      alive,
      STOP_GRACE_MS,
    )),
    ...(await stopProcesses(
      running.filter((p) => p.role === "nats"),
      alive,
      STOP_GRACE_MS,
    )),
  ].map((p) => p.name);
  const orphans = await stopProcesses(leftovers, stillRunning, 2_000);
  killed.push(...orphans.map((p) => `pid ${p.pid}`));
  return { stopped: running.length, killed };
}

/** Stops what `up` started in `dir` and removes its context. */
export async function down(
  dir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ stopped: number; killed: string[]; context: string } | null> {
  const state = readState(dir);
  if (!state) return null;
  const result = await stopAll(state);
  const contextsFile = contextsPath(env);
  const saved = readContexts(contextsFile).contexts[state.context];
  if (saved?.upDir === dir) removeContext(contextsFile, state.context);
  rmSync(join(dir, STATE_FILE), { force: true });
  return { ...result, context: state.context };
}
