/**
 * The seam below the process runner: how an agent's process is started, signalled, written to and
 * watched. The ProcessRunner (records, output buffers, statuses, events) stays in the server; a
 * launcher is either inline (child processes of this process: inline-launcher.ts) or remote (a
 * separate runner process reached over a Unix socket: remote/launcher.ts). See docs/runner.md.
 */
import type { OutputStream } from "../protocol/index.js";
import type { AgentLimits } from "./limits.js";
import type { ReapReport } from "./records.js";

/** What to start. `env` is the caller's; the launcher builds the agent's environment around it. */
export interface LaunchSpec {
  /** The agent id, for records and messages. */
  readonly agentId: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly limits?: AgentLimits;
}

/** What a launched process reports, in this order: spawn or error; output; exit; close. */
export interface LaunchEvents {
  /** The process runs (exec succeeded, or prlimit runs the command). */
  onSpawn(pid: number): void;
  /** It could not be started; the message says why and what to do. Nothing follows. */
  onError(message: string): void;
  onOutput(stream: OutputStream, chunk: Buffer): void;
  /** The leader exited; whatever it left in its process group has been SIGKILLed. */
  onExit(code: number | null, signal: NodeJS.Signals | null): void;
  /** Its output pipes are closed: all output has been reported. */
  onClose(): void;
  /** Its stdin broke (the agent closed it or died): later writes must be refused. */
  onStdinClosed(): void;
}

/** A started process, as the runner controls it. */
export interface LaunchedProcess {
  /** Sends `signal` to the agent's whole process group. */
  signal(signal: NodeJS.Signals): void;
  write(data: Buffer): void;
  end(): void;
  /** Bytes written to stdin that the agent has not read yet (bounded by the runner). */
  readonly stdinBacklog: number;
  /** Stops waiting for output (a descendant that left the group holds the pipes): onClose follows at once. */
  closeOutput(): void;
  /** The process is done with: drop references. */
  release(): void;
  /** Lets this process exit while the agent runs (the runner is closing without stopping agents). */
  unref(): void;
}

export interface ProcessLauncher {
  /** The id marking this launcher's agents (AGENT_RUNNER_INSTANCE), for the orphan sweep. */
  readonly instanceId: string;
  /** The watchdog's pid, or null (remote: it lives with the runner process). */
  readonly watchdogPid: number | null;
  /** What opening the state directory found and killed from a previous run. */
  readonly reapedAtStartup: ReapReport;
  launch(spec: LaunchSpec, events: LaunchEvents): LaunchedProcess;
  /** Writes the agent records now instead of with the next batch. */
  flush(): Promise<void>;
  /** Releases the launcher; agents still running stay guarded until this process exits. */
  close(): Promise<void>;
}
