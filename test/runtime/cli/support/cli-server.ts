/** Runs `zeroplane server ...` (the real CLI) as a child process, for CLI tests. */
import { spawn, type ChildProcess } from "node:child_process";
import { freePorts } from "../../../support/ports.js";
import { waitUntil } from "../../client/support/servers.js";
import { cleanEnv, cliMain, repoRoot } from "./run-cli.js";

export interface CliServer {
  readonly child: ChildProcess;
  readonly endpoint: string;
  stderr(): string;
  /** The server's JSON log lines so far. */
  stdout(): string;
  stop(): Promise<number | null>;
}

/** Runs `zeroplane server ...` and waits until it says it is running. */
export async function startCliServer(args: string[], stateDir: string): Promise<CliServer> {
  const [router, publish] = await freePorts(2);
  const endpoint = `tcp://127.0.0.1:${router}`;
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      cliMain,
      "server",
      "--bind",
      endpoint,
      "--publish-bind",
      `tcp://127.0.0.1:${publish}`,
      "--http-port",
      "0",
      "--state-dir",
      stateDir,
      "--log-level",
      "warn",
      ...args,
    ],
    { cwd: repoRoot, env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  let stdout = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    await waitUntil(
      () => stderr.includes("zeroplane server running") || child.exitCode !== null,
      45_000,
      "zeroplane server to start",
    );
    if (child.exitCode !== null) throw new Error(`zeroplane server exited: ${stderr}`);
  } catch (error) {
    // No caller gets a handle to stop it, so a server that did not start must not outlive the test.
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    throw error;
  }
  return {
    child,
    endpoint,
    stderr: () => stderr,
    stdout: () => stdout,
    stop: async () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}
