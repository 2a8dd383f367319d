/**
 * Reaching the runner: in mode "process" the server starts `zeroplane runner` as its own child (as
 * the agent uid/gid when the server is root, with a minimal environment) on a socket in a private
 * directory; in mode "socket" it connects to a runner already listening (the Kubernetes sidecar).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chownSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  statSync,
} from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRequire } from "node:module";
import { RUNNER_BUNDLE_NAME } from "../../config/names.js";
import { buildAgentEnv, DEFAULT_AGENT_PATH } from "../agent-env.js";

/** The runner's listening line on stdout, once it accepts its connection. */
export const LISTENING_LINE = "zeroplane runner listening";

export interface StartedRunner {
  readonly socket: Socket;
  /** The runner process (mode "process"), or null (mode "socket"). */
  readonly child: ChildProcess | null;
}

export interface StartRunnerOptions {
  /** The server's stateDir: names the runner's own state directory (see runnerStateDir). */
  readonly stateDir: string;
  readonly agentUid: number;
  readonly agentGid: number;
  readonly timeoutMs: number;
}

/**
 * How to run the `zeroplane runner` command from this process: from source (tsx) the runner's own
 * entry, runtime/runner/main.ts; from a bundle, the runner's own bundle beside it when there is one
 * (it loads only what the runner needs: a smaller process forks agents faster, bench/server), else
 * the bundle's entry (the `zeroplane` CLI, or the server's main, which both accept `runner`).
 */
export function runnerCommandArgs(): string[] {
  const self = fileURLToPath(import.meta.url);
  if (self.endsWith(".ts")) {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    return ["--import", tsx, fileURLToPath(new URL("../main.ts", import.meta.url)), "runner"];
  }
  const entry = process.argv[1];
  if (!entry) throw new Error("cannot start the runner: this process has no entry script to run again");
  // The real path: `zeroplane` on PATH is a symlink to the bundle.
  const lean = join(dirname(realpathSync(entry)), RUNNER_BUNDLE_NAME);
  return existsSync(lean) ? [lean, "runner"] : [entry, "runner"];
}

/** Starts the runner process and connects to it. */
export async function startRunnerProcess(options: StartRunnerOptions): Promise<StartedRunner> {
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? { uid: options.agentUid, gid: options.agentGid } : {};
  // A private directory for the socket: only the runner's uid (and root) can reach it, and the
  // runner unlinks the socket once the server has connected.
  const socketDir = mkdtempSync(join(tmpdir(), "zeroplane-runner-"));
  const stateDir = runnerStateDir(options.stateDir, asRoot ? options.agentUid : null, options.agentGid);
  if (asRoot) chownSync(socketDir, options.agentUid, options.agentGid);
  const socketPath = join(socketDir, "runner.sock");
  const child = spawn(
    process.execPath,
    [...runnerCommandArgs(), "--listen", socketPath, "--state-dir", stateDir, "--exit-with-stdin"],
    {
      ...ids,
      // Nothing of the server's environment but the agent allowlist: no ZEROPLANE_*, no credentials.
      env: runnerEnv(asRoot),
      cwd: "/",
      // Its own process group: a terminal's Ctrl-C reaches the server, which stops agents gracefully.
      detached: true,
      // stdin: the runner exits when it reads EOF (this process died before connecting).
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  try {
    await waitForListening(child, options.timeoutMs);
    const socket = await connectOnce(socketPath);
    return { socket, child };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  } finally {
    child.unref();
    for (const stream of [child.stdin, child.stdout]) (stream as Socket | null)?.unref();
    removeSocketDir(socketDir);
  }
}

/** Best effort: the runner may be writing its ready file there at this very moment (ENOTEMPTY). */
function removeSocketDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  } catch (error) {
    process.emitWarning(
      `could not remove the runner's socket directory ${dir}: ${(error as Error).message}`,
      "ZeroplaneRunnerWarning",
    );
  }
}

/**
 * The runner's environment: the agent allowlist. Run as another uid, PATH keeps only directories
 * anyone may search: one under /root would turn every "command not found" into EACCES.
 */
function runnerEnv(otherUid: boolean): Record<string, string> {
  const env = buildAgentEnv({}, process.env);
  if (!otherUid) return env;
  const searchable = env.PATH!.split(":").filter((dir) => dir !== "" && searchableByAnyone(dir));
  env.PATH = searchable.length > 0 ? searchable.join(":") : DEFAULT_AGENT_PATH;
  return env;
}

/** True when `dir` and each of its ancestors are directories with the others-search bit (o+x). */
function searchableByAnyone(dir: string): boolean {
  if (!isAbsolute(dir)) return false;
  for (let path = dir; ; path = dirname(path)) {
    try {
      const stat = statSync(path);
      if (!stat.isDirectory() || (stat.mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (path === dirname(path)) return true;
  }
}

/**
 * The runner's state directory (its agent records, for reaping after a crash): stable per server
 * stateDir, outside it (the server's stateDir stays closed to the agent uid), owned by the runner's
 * uid. Refuses anything at that path but a plain directory owned by root or that uid; lchown never
 * follows a symlink swapped in meanwhile.
 */
function runnerStateDir(serverStateDir: string, agentUid: number | null, agentGid: number): string {
  const tag = createHash("sha256").update(serverStateDir).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), `zeroplane-runner-state-${tag}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (agentUid === null) return dir;
  const stat = lstatSync(dir);
  if (!stat.isDirectory() || (stat.uid !== 0 && stat.uid !== agentUid)) {
    throw new Error(
      `runner state directory ${dir} is not a directory owned by root or uid ${agentUid}; remove it and start again`,
    );
  }
  lchownSync(dir, agentUid, agentGid);
  return dir;
}

/** Connects to a runner listening on `socketPath`, waiting up to `timeoutMs` for it to appear. */
export async function connectRunnerSocket(socketPath: string, timeoutMs: number): Promise<StartedRunner> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return { socket: await connectOnce(socketPath), child: null };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== "ENOENT" && code !== "ECONNREFUSED") || Date.now() > deadline) {
        throw new Error(
          `cannot connect to the runner at ${socketPath} (${code ?? String(error)}); start \`zeroplane runner --listen ${socketPath}\` ` +
            "beside the server (the runner container), or set the runner mode to process",
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function connectOnce(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    socket.once("connect", () => {
      socket.removeListener("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

function waitForListening(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(
      () => reject(new Error(`the runner process did not listen within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      reject(
        new Error(
          `the runner process exited before listening (${signal ?? `code ${code}`}); see its error above`,
        ),
      );
    };
    child.once("exit", onExit);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start the runner process: ${error.message}`));
    });
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      text += chunk;
      if (!text.includes(LISTENING_LINE)) return;
      clearTimeout(timer);
      child.removeListener("exit", onExit);
      resolve();
    });
  });
}
