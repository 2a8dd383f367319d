/** Runs the real `zeroplane` CLI (runtime/cli/main.ts under tsx) in a child process. */
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(fileURLToPath(new URL("../../../..", import.meta.url)));
export const cliMain = join(repoRoot, "runtime/cli/main.ts");

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** An empty config home, so no context of the person running the tests reaches the CLI under test. */
const emptyConfigHome = join(tmpdir(), "zeroplane-test-no-contexts");

/**
 * The environment without any ZEROPLANE_* variable of the test runner, with XDG_CONFIG_HOME pointing
 * at a folder without contexts, plus `extra`.
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env))
    if (!name.startsWith("ZEROPLANE_")) env[name] = value;
  return { ...env, XDG_CONFIG_HOME: emptyConfigHome, ...extra };
}

/** Runs `zeroplane <args>` to completion (SIGKILLed after timeoutMs, which fails the caller's checks). */
export function runCli(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; stdin?: string } = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", cliMain, ...args], {
      cwd: repoRoot,
      env: cleanEnv(options.env),
      stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    if (options.stdin !== undefined) child.stdin!.end(options.stdin);
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 45_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}
