/**
 * The inline launcher: agents are child processes of this process, each the leader of its own
 * process group (setsid), guarded by the watchdog and recorded in the stateDir, so none outlives
 * this process. The server uses it in mode "inline"; the runner process uses it in every mode.
 */
import { spawn as spawnChild, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import type { Socket } from "node:net";
import { isAbsolute } from "node:path";
import { buildAgentEnv } from "./agent-env.js";
import type { LaunchEvents, LaunchSpec, LaunchedProcess, ProcessLauncher } from "./launcher.js";
import { limitedCommand } from "./limits.js";
import { signalGroup } from "./process-groups.js";
import { AgentRecords, type ReapReport } from "./records.js";
import { Watchdog } from "./watchdog.js";

export class InlineLauncher implements ProcessLauncher {
  private readonly live = new Set<ChildLaunch>();
  private outputPaused = false;

  private constructor(
    private readonly records: AgentRecords,
    private readonly watchdog: Watchdog,
    readonly reapedAtStartup: ReapReport,
  ) {}

  /**
   * Opens `stateDir` (killing agents a previous run left alive, and recording this instance's id)
   * and starts the watchdog. Throws if another live runner owns the stateDir.
   */
  static async open(stateDir: string): Promise<InlineLauncher> {
    // Marks every agent of this start (AGENT_RUNNER_INSTANCE), so none can escape the orphan sweep.
    const instanceId = randomBytes(16).toString("hex");
    const { records, report } = await AgentRecords.open(stateDir, instanceId);
    const watchdog = new Watchdog(instanceId, (message) =>
      process.emitWarning(message, "ZeroplaneRunnerWarning"),
    );
    return new InlineLauncher(records, watchdog, report);
  }

  get instanceId(): string {
    return this.records.instanceId;
  }

  get watchdogPid(): number | null {
    return this.watchdog.pid;
  }

  launch(spec: LaunchSpec, events: LaunchEvents): LaunchedProcess {
    const launch = new ChildLaunch(spec, events, this);
    launch.start();
    return launch;
  }

  /** Pauses (true) or resumes reading every agent's output: backpressure from a slow consumer. */
  pauseOutput(paused: boolean): void {
    this.outputPaused = paused;
    for (const launch of this.live) launch.pauseOutput(paused);
  }

  /** SIGKILLs every agent's process group now; returns how many agents there were. */
  killAll(): number {
    for (const launch of this.live) launch.signal("SIGKILL");
    return this.live.size;
  }

  flush(): Promise<void> {
    return this.records.flush();
  }

  async close(): Promise<void> {
    await this.records.close();
    await this.watchdog.close();
  }

  /** @internal ChildLaunch's bookkeeping. */
  registered(launch: ChildLaunch, pid: number, agentId: string): void {
    this.live.add(launch);
    this.watchdog.register(pid);
    this.records.add(agentId, pid);
    if (this.outputPaused) launch.pauseOutput(true);
  }

  /** @internal */
  unregistered(launch: ChildLaunch, pid: number, agentId: string): void {
    this.live.delete(launch);
    this.watchdog.unregister(pid);
    this.records.remove(agentId);
  }
}

class ChildLaunch implements LaunchedProcess {
  private child: ChildProcess | null = null;
  private pid: number | null = null;
  private spawned = false;
  private exited = false;

  constructor(
    private readonly spec: LaunchSpec,
    private readonly events: LaunchEvents,
    private readonly launcher: InlineLauncher,
  ) {}

  start(): void {
    const { spec } = this;
    const cwdProblem = spec.cwd === undefined ? null : checkCwd(spec.cwd);
    if (cwdProblem) return this.failSoon(cwdProblem);
    const { command, args } = limitedCommand(spec.command, spec.args, spec.limits);
    let child: ChildProcess;
    try {
      child = spawnChild(command, args, {
        cwd: spec.cwd,
        env: buildAgentEnv(spec.env, process.env, this.launcher.instanceId),
        // Own process group (setsid): signals to -pid reach everything the agent starts.
        detached: true,
        stdio: "pipe",
      });
    } catch (error) {
      return this.failSoon(describeSpawnError(spec.command, error, spec.cwd));
    }
    this.child = child;
    if (child.pid !== undefined) {
      this.pid = child.pid;
      this.launcher.registered(this, child.pid, spec.agentId);
    }
    child.once("spawn", () => {
      this.spawned = true;
      this.events.onSpawn(child.pid!);
    });
    child.on("error", (error) => {
      // After a successful start, errors come only from our own signalling, which we handle there.
      if (this.spawned) return;
      this.unregister();
      this.destroyPipes();
      this.events.onError(describeSpawnError(spec.command, error, spec.cwd));
    });
    child.once("exit", (code, signal) => {
      this.exited = true;
      this.unregister();
      // An agent's lifetime is its leader's: whatever it left running in its group goes with it.
      if (this.pid !== null) signalGroup(this.pid, "SIGKILL");
      this.events.onExit(code, signal);
    });
    child.once("close", () => {
      if (this.spawned) this.events.onClose();
    });
    child.stdout?.on("data", (chunk: Buffer) => this.events.onOutput("stdout", chunk));
    child.stderr?.on("data", (chunk: Buffer) => this.events.onOutput("stderr", chunk));
    child.stdin?.on("error", () => {
      // EPIPE: the agent closed its stdin or died.
      this.events.onStdinClosed();
    });
  }

  signal(signal: NodeJS.Signals): void {
    if (this.pid !== null) signalGroup(this.pid, signal);
  }

  write(data: Buffer, done?: (error?: Error | null) => void): void {
    const stdin = this.child?.stdin;
    if (!stdin || !stdin.writable) {
      done?.(new Error("stdin is closed"));
      return;
    }
    stdin.write(data, done);
  }

  end(): void {
    this.child?.stdin?.end();
  }

  get stdinBacklog(): number {
    return this.child?.stdin?.writableLength ?? 0;
  }

  get stdinWritable(): boolean {
    return this.child?.stdin?.writable ?? false;
  }

  closeOutput(): void {
    this.destroyPipes();
    // "close" follows once the pipes are destroyed.
  }

  release(): void {
    this.child?.stdin?.destroy();
    // Drop our listeners so the process object can be freed; keep "error" handled, as Node requires.
    this.child?.removeAllListeners().on("error", () => {});
    this.child = null;
  }

  unref(): void {
    const child = this.child;
    if (!child) return;
    child.unref();
    // Pipe streams are net.Sockets; unref'd, they no longer hold the event loop open.
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as Socket | null)?.unref();
  }

  pauseOutput(paused: boolean): void {
    for (const stream of [this.child?.stdout, this.child?.stderr]) {
      if (paused) stream?.pause();
      else stream?.resume();
    }
  }

  private unregister(): void {
    if (this.pid !== null && !this.unregisteredOnce) {
      this.unregisteredOnce = true;
      this.launcher.unregistered(this, this.pid, this.spec.agentId);
    }
  }
  private unregisteredOnce = false;

  private destroyPipes(): void {
    this.child?.stdout?.destroy();
    this.child?.stderr?.destroy();
    this.child?.stdin?.destroy();
  }

  /** Reports a failure that happened before any process existed, after launch() has returned. */
  private failSoon(message: string): void {
    queueMicrotask(() => this.events.onError(message));
  }

  /** True once the leader has exited. */
  get leaderExited(): boolean {
    return this.exited;
  }
}

/** Why `cwd` cannot be used as a working directory, or null when it can. */
function checkCwd(cwd: string): string | null {
  if (!isAbsolute(cwd))
    return `cwd ${JSON.stringify(cwd)} is not an absolute path; pass an absolute directory`;
  try {
    if (!statSync(cwd).isDirectory()) return `cwd ${JSON.stringify(cwd)} is not a directory`;
    return null;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      return `cwd ${JSON.stringify(cwd)} does not exist; create it or pass an existing directory`;
    return `cwd ${JSON.stringify(cwd)} cannot be used (${code ?? String(error)})`;
  }
}

function describeSpawnError(command: string, error: unknown, cwd: string | undefined): string {
  const code = (error as NodeJS.ErrnoException).code;
  const name = JSON.stringify(command);
  switch (code) {
    case "ENOENT":
      return `command ${name} not found (ENOENT); check the command name and the PATH in the agent's env`;
    case "EACCES":
      return cwd === undefined
        ? `command ${name} is not executable (EACCES); check its file mode`
        : `cannot start ${name} in cwd ${JSON.stringify(cwd)} (EACCES): the agent's uid (${process.getuid?.()}) ` +
            "cannot enter that directory or execute the command; check their modes";
    case "EAGAIN":
    case "EMFILE":
    case "ENFILE":
      return `cannot start ${name}: the server is out of processes or file descriptors (${code})`;
    default:
      return `cannot start ${name}: ${error instanceof Error ? error.message : String(error)}`;
  }
}
