/**
 * The runner process (`zeroplane runner --listen PATH`): starts, signals and watches agents for one
 * server, which it serves over a Unix socket. It holds no secret and reads no server config: only
 * its socket path and its own state directory. It accepts exactly one connection per lifetime (then
 * closes the listener and unlinks the socket) and exits when that connection drops, killing every
 * agent's process group. See docs/runner.md.
 */
import { chmodSync, lstatSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_PATHS, ENV_VARS } from "../config/names.js";
import { isEntryModule } from "../entry.js";
import { InlineLauncher } from "./inline-launcher.js";
import { LISTENING_LINE } from "./remote/connect.js";
import { RunnerHost } from "./remote/host.js";

export interface RunnerProcessOptions {
  /** The Unix socket to listen on. */
  readonly listen: string;
  /** Writable directory for agent records (reaping after a crash). */
  readonly stateDir: string;
  /** Exit when stdin reaches EOF: the parent that started this runner is gone. */
  readonly exitWithStdin?: boolean;
}

/** The state directory when neither --state-dir nor ZEROPLANE_RUNNER_STATE_DIR names one. */
export function defaultRunnerStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env[ENV_VARS["runner.stateDir"]] || join(tmpdir(), "zeroplane-runner");
}

/** Runs the runner until its connection drops (then exits the process). Resolves once listening. */
export async function runRunnerProcess(options: RunnerProcessOptions): Promise<void> {
  process.title = "zeroplane-runner";
  if (process.getuid?.() === 0) {
    warn(
      "running as root: agents run as root too. Start the runner as an unprivileged uid (see docs/runner.md).",
    );
  }
  const launcher = await InlineLauncher.open(options.stateDir);
  let connection: Socket | null = null;
  const readyFile = runnerReadyFile(options.listen);
  const exit = (reason: string) => {
    rmSync(readyFile, { force: true });
    const killed = launcher.killAll();
    if (killed > 0) warn(`${reason}: killed ${killed} running agents; exiting`);
    // The watchdog reads EOF when this process exits and sweeps anything forked meanwhile.
    process.exit(0);
  };
  const listener = createServer((socket) => {
    if (connection) {
      socket.destroy();
      return;
    }
    connection = socket;
    // One connection per lifetime: nobody else, agents included, can reach this runner from now on.
    listener.close();
    removeSocket(options.listen);
    markReady(readyFile, "serving");
    socket.on("error", () => {
      // The close that follows ends the runner.
    });
    socket.on("close", () => exit("the server's connection closed"));
    new RunnerHost(socket, launcher);
  });
  removeSocket(options.listen);
  // The server may run as another uid sharing this socket's group (a pod's fsGroup); nobody else.
  const umask = process.umask(0o117);
  try {
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(options.listen, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(options.listen, 0o660);
  markReady(readyFile, "listening");
  // Termination signals do not stop agents: the server drains them, then closes its connection.
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => {});
  if (options.exitWithStdin) {
    process.stdin.on("end", () => exit("the server process is gone (stdin closed)"));
    process.stdin.on("error", () => exit("the server process is gone (stdin broke)"));
    process.stdin.resume();
  }
  process.stdout.write(`${LISTENING_LINE} ${options.listen}\n`);
}

/**
 * The file that exists while this runner is up, listening or serving (see DEFAULT_PATHS.runnerReadyFile):
 * container probes check it, as the socket is unlinked once the server has connected.
 */
export function runnerReadyFile(socketPath: string): string {
  return `${socketPath}.ready`;
}

/** Best effort: in mode "process" the server removes the socket directory once connected. */
function markReady(path: string, state: "listening" | "serving"): void {
  try {
    writeFileSync(path, `${state}\n`, { mode: 0o644 });
  } catch {
    // Nobody probes a directory that is gone.
  }
}

/** Removes a socket left at `path` by an earlier runner; leaves anything that is not a socket. */
function removeSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Absent already.
  }
}

function warn(message: string): void {
  process.stderr.write(`zeroplane runner: ${message}\n`);
}

/** Parses `runner [--listen PATH] [--state-dir DIR] [--exit-with-stdin]` for the direct entry. */
export function parseRunnerArgs(argv: readonly string[]): RunnerProcessOptions {
  const args = argv[0] === "runner" ? argv.slice(1) : argv;
  const { values } = parseArgs({
    args: [...args],
    options: {
      listen: { type: "string" },
      "state-dir": { type: "string" },
      "exit-with-stdin": { type: "boolean" },
    },
    strict: true,
  });
  return {
    listen: values.listen ?? DEFAULT_PATHS.runnerSocket,
    stateDir: values["state-dir"] ?? defaultRunnerStateDir(),
    exitWithStdin: values["exit-with-stdin"] ?? false,
  };
}

/** Runs the runner from a command line, reporting a failure on stderr with exit code 1. */
export function runRunnerFromArgs(argv: readonly string[]): void {
  let options: RunnerProcessOptions;
  try {
    options = parseRunnerArgs(argv);
  } catch (error) {
    warn(`${(error as Error).message}; usage: zeroplane runner --listen PATH [--state-dir DIR]`);
    process.exit(2);
  }
  runRunnerProcess(options).catch((error: Error) => {
    warn(`cannot start: ${error.message}`);
    process.exit(1);
  });
}

// runtime/runner/main.ts, or its own bundle (zeroplane-runner.mjs, see remote/connect.ts).
if (isEntryModule(import.meta.url, /([\\/]runner[\\/]main\.[cm]?[jt]s|[\\/]zeroplane-runner\.mjs)$/))
  runRunnerFromArgs(process.argv.slice(2));
