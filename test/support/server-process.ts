/**
 * Starts the agent server in a child process (`node --import tsx runtime/server/main.ts`) with a
 * given config and environment, waits until it listens and /readyz answers, and returns its
 * endpoints and ways to stop it. Its JSON log lines are kept for assertions.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ZeroplaneConfigInput } from "../../runtime/config/index.js";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const serverMain = join(repoRoot, "runtime/server/main.ts");

export interface ServerProcessOptions {
  /**
   * Written to a JSON config file passed through ZEROPLANE_CONFIG. Keep log.level at info or lower:
   * the helper learns the bound endpoints from the "zeroplane server listening" line.
   */
  readonly config?: ZeroplaneConfigInput;
  /** Extra environment (ZEROPLANE_* variables, for example). */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Node arguments that start the server. @default ["--import", "tsx", "runtime/server/main.ts"]
   * (benchmarks pass a compiled bundle instead, to measure what production runs).
   */
  readonly nodeArgs?: readonly string[];
  /** How long to wait for the server to become ready. @default 30000 */
  readonly readyTimeoutMs?: number;
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly endpoints: { readonly router: string; readonly publish: string; readonly http: string };
  /** The runner's state directory (agent records). */
  readonly stateDir: string;
  /** Parsed JSON log lines so far. */
  readonly logs: Array<Record<string, unknown>>;
  /** Raw stderr so far. */
  stderr(): string;
  /** Resolves with how the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal (SIGTERM by default). */
  kill(signal?: NodeJS.Signals): void;
  /** SIGKILLs the process if still running and removes its temporary files. */
  dispose(): Promise<void>;
}

/**
 * A config for a test server: loopback only, ephemeral ports, CURVE off unless the overrides turn it on
 * (then pass secretKeyFile and allowlistFile too).
 */
export function testServerConfig(overrides: ZeroplaneConfigInput = {}): ZeroplaneConfigInput {
  return {
    ...overrides,
    server: {
      bind: "tcp://127.0.0.1:*",
      publishBind: "tcp://127.0.0.1:*",
      ...overrides.server,
    },
    security: { curve: false, ...overrides.security },
    http: { host: "127.0.0.1", port: 0, ...overrides.http },
    log: { level: "info", ...overrides.log },
  };
}

/** Starts a server process and waits until it is ready. Throws with its output if it exits first. */
export async function startServerProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), "zeroplane-server-"));
  const configFile = join(dir, "config.json");
  const config = options.config ?? testServerConfig();
  // Each server gets a state directory of its own unless the test chose one (runners never share one).
  const stateDir = config.runner?.stateDir ?? options.env?.ZEROPLANE_RUNNER_STATE_DIR ?? join(dir, "state");
  writeFileSync(configFile, JSON.stringify({ ...config, runner: { ...config.runner, stateDir } }));
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("ZEROPLANE_")) env[name] = value;
  }
  Object.assign(env, { ZEROPLANE_CONFIG: configFile }, options.env);
  const child = spawn(process.execPath, [...(options.nodeArgs ?? ["--import", "tsx", serverMain])], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = "";
  let pending = "";
  let onListening: ((endpoints: ServerProcess["endpoints"]) => void) | null = null;
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === "zeroplane server listening" && onListening) {
          onListening(entry.endpoints as ServerProcess["endpoints"]);
        }
      } catch {
        stderr += `${line}\n`;
      }
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.once("exit", (code, signal) => resolveExit({ code, signal })),
  );

  const dispose = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };

  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const endpoints = await Promise.race([
      new Promise<ServerProcess["endpoints"]>((resolveListening) => (onListening = resolveListening)),
      exited.then(({ code, signal }) => {
        throw new Error(`server exited before listening (code ${code}, signal ${signal}):\n${stderr}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`server not listening after ${timeoutMs} ms:\n${stderr}`)),
          timeoutMs,
        );
      }),
    ]);
    await waitForReady(endpoints.http, timeoutMs);
    return {
      child,
      pid: child.pid!,
      endpoints,
      stateDir,
      logs,
      stderr: () => stderr,
      exited,
      kill: (signal = "SIGTERM") => {
        child.kill(signal);
      },
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function waitForReady(httpUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`${httpUrl}/readyz`);
      if (response.status === 200) return;
    } catch {
      // Not accepting connections yet.
    }
    if (Date.now() > deadline) throw new Error(`${httpUrl}/readyz not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resident set size of a process in bytes, from /proc (Linux). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}
