/**
 * Processes the benchmarks measure: the agent server as an esbuild bundle (compiled JavaScript, as
 * in the image) with CURVE and ZAP, and helper processes (the echo baseline, small scripts). With
 * BENCH_PROFILE=1 the agent servers run with --cpu-prof and write their profiles to
 * bench/out/profiles/ when they stop.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ZeroplaneConfigInput } from "../runtime/config/index.js";
import { RUNNER_BUNDLE_NAME } from "../runtime/config/names.js";
import { startServerProcess, testServerConfig, type ServerProcess } from "../test/support/server-process.js";
import type { Keys } from "./load.js";

export const repoRoot = fileURLToPath(new URL("..", import.meta.url));
/** Where `npm run bench` writes results, the report and profiles (git-ignored). */
export const outputDir = join(repoRoot, "bench", "out");
export const profileDir = join(outputDir, "profiles");
export const profiling = process.env.BENCH_PROFILE === "1";

/**
 * Bundles the server with esbuild, as production runs compiled JavaScript rather than tsx: the
 * process is smaller, and that matters because fork() for each spawn costs more in a bigger process.
 * The bundle lives under the repository's .tmp/ so node_modules resolves.
 */
export async function bundleServer(): Promise<{ entry: string; remove(): void }> {
  const { build } = await import("esbuild");
  mkdirSync(join(repoRoot, ".tmp"), { recursive: true });
  const dir = mkdtempSync(join(repoRoot, ".tmp", "bench-server-"));
  // The separate runner runs the same bundle as the agent uid (when started as root): let it read it.
  chmodSync(dir, 0o755);
  // server/main.* is the name runtime/server/main.ts recognises as "run me" (see isMainModule there).
  const entry = join(dir, "server", "main.mjs");
  // The server, and the runner's own bundle beside it as in the image (runnerCommandArgs prefers it).
  for (const [source, outfile] of [
    ["runtime/server/main.ts", entry],
    ["runtime/runner/main.ts", join(dir, "server", RUNNER_BUNDLE_NAME)],
  ] as const) {
    await build({
      entryPoints: [join(repoRoot, source)],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      packages: "external",
      outfile,
      logLevel: "warning",
    });
  }
  return { entry, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Node arguments that make a process write a CPU profile named `<name>-<time>` when profiling. */
export function profileNodeArgs(name: string): string[] {
  if (!profiling) return [];
  mkdirSync(profileDir, { recursive: true });
  return ["--cpu-prof", "--cpu-prof-dir", profileDir, "--cpu-prof-name", `${name}-${Date.now()}.cpuprofile`];
}

export interface BenchServer {
  readonly process: ServerProcess;
  readonly endpoints: ServerProcess["endpoints"];
  readonly pid: number;
  /** SIGTERM and wait (so a profile is written), SIGKILL if it takes more than 10 s. */
  stop(): Promise<void>;
}

/** An agent server from the bundle with CURVE and ZAP admitting `keys.client`. */
export async function startAgentServer(
  entry: string,
  keys: Keys,
  dir: string,
  overrides: ZeroplaneConfigInput = {},
  name = "server",
): Promise<BenchServer> {
  const secretKeyFile = join(dir, `${name}.key_secret`);
  const allowlistFile = join(dir, `${name}-allowlist.txt`);
  writeFileSync(secretKeyFile, keys.server.secretKey, { mode: 0o600 });
  writeFileSync(allowlistFile, `${keys.client.publicKey}\n`);
  // BENCH_NODE_ARGS: extra Node flags for the server (--trace-gc, for example).
  const profileArgs = [
    ...profileNodeArgs(name),
    ...(process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean),
  ];
  const server = await startServerProcess({
    nodeArgs: [...profileArgs, entry],
    config: testServerConfig({
      ...overrides,
      security: { curve: true, secretKeyFile, allowlistFile },
      server: { maxAgents: 2_000, ...overrides.server },
      runner: { retentionMs: 1_000, ...overrides.runner },
      log: { level: "info", ...overrides.log },
    }),
  });
  return {
    process: server,
    endpoints: server.endpoints,
    pid: server.pid,
    stop: async () => {
      server.kill("SIGTERM");
      const timer = setTimeout(() => server.kill("SIGKILL"), 10_000);
      await server.exited;
      clearTimeout(timer);
      await server.dispose();
    },
  };
}

export interface Helper {
  readonly child: ChildProcess;
  /** The first line the helper printed that matched. */
  readonly line: RegExpExecArray;
  stop(): Promise<void>;
}

/**
 * Starts `node --import tsx <script> ...args` and waits for a stdout line matching `ready`. Helpers
 * print their figures on stdout; `output()` reads what they printed so far.
 */
export async function startHelper(
  script: string,
  args: readonly string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = {},
  nodeArgs: readonly string[] = [],
): Promise<Helper & { output(): string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", script, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let text = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const line = await new Promise<RegExpExecArray>((resolve, reject) => {
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      text += chunk;
      const match = ready.exec(text);
      if (match) resolve(match);
    });
    void exited.then((code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
  });
  return {
    child,
    line,
    exited,
    output: () => text,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The echo baseline (bench/echo-server.ts) in its own process. */
export async function startEchoServer(
  keys: Keys,
): Promise<{ endpoint: string; pid: number; stop(): Promise<void> }> {
  const helper = await startHelper(join(repoRoot, "bench", "echo-server.ts"), [], /^listening (\S+)$/m, {
    BENCH_SERVER_SECRET_KEY: keys.server.secretKey,
  });
  return { endpoint: helper.line[1]!, pid: helper.child.pid!, stop: () => helper.stop() };
}
