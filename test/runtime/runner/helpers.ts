/**
 * Shared test helpers for the process runner: real runners on temporary stateDirs, and polling waits.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  controlParams,
  listParams,
  outputParams,
  spawnParams,
  TERMINAL_STATUSES,
  type AgentInfo,
  type AgentStatus,
  type ControlParams,
  type LifecycleEvent,
  type ListParams,
  type OutputParams,
  type SpawnParams,
  type StreamEvent,
} from "../../../runtime/protocol/index.js";
import {
  createAgentRunner,
  type AgentRunnerOptions,
  type ProcessRunner,
} from "../../../runtime/runner/index.js";
import { readProcStat } from "../../../runtime/runner/process-groups.js";
import { waitFor } from "../../support/wait.js";

/** The launchers the status-machine tests run against: in this process, and the separate runner process. */
export const LAUNCHER_MODES = ["inline", "process"] as const;
let launcherMode: (typeof LAUNCHER_MODES)[number] = "inline";

/** Makes RunnerHarness.create() use `mode` unless its options say otherwise (call in beforeAll). */
export function useLauncherMode(mode: (typeof LAUNCHER_MODES)[number]): void {
  launcherMode = mode;
}

export { waitFor };

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `zeroplane-${prefix}-`));
}

/** True while `pid` is a live (not dead, not zombie) process. */
export function alive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== null && stat.state !== "Z" && stat.state !== "X";
}

/**
 * A real runner with every event recorded, plus shorthands taking the params a client would send.
 * `dispose()` stops every agent and removes the stateDir.
 */
export class RunnerHarness {
  readonly lifecycle: LifecycleEvent[] = [];
  readonly stream: StreamEvent[] = [];

  private constructor(
    readonly runner: ProcessRunner,
    readonly stateDir: string,
  ) {
    runner.on("lifecycle", (event) => this.lifecycle.push(event));
    runner.on("stream", (event) => this.stream.push(event));
  }

  static async create(options: Partial<AgentRunnerOptions> = {}): Promise<RunnerHarness> {
    const stateDir = options.stateDir ?? tempDir("runner");
    const runner = await createAgentRunner({
      isolation: { mode: launcherMode },
      serverId: "test-server",
      maxAgents: 100,
      outputCapBytes: 1024 * 1024,
      retentionMs: 60_000,
      stopGraceMs: 2_000,
      ...options,
      stateDir,
    });
    return new RunnerHarness(runner, stateDir);
  }

  spawn(params: SpawnParams): Promise<AgentInfo> {
    return this.runner.spawn(spawnParams.parse(params));
  }

  control(params: ControlParams): Promise<AgentInfo> {
    return this.runner.control(controlParams.parse(params));
  }

  list(params: ListParams = {}) {
    return this.runner.list(listParams.parse(params));
  }

  output(params: OutputParams) {
    return this.runner.output(outputParams.parse(params));
  }

  /** The agent's stdout so far, as text. */
  stdout(agentId: string): string {
    return Buffer.from(this.output({ agentId, limit: 10 * 1024 * 1024 }).data).toString("utf8");
  }

  waitForStatus(agentId: string, status: AgentStatus, timeoutMs?: number): Promise<AgentInfo> {
    return waitFor(
      `agent ${agentId} to be ${status}`,
      () => {
        const info = this.runner.get(agentId);
        if (info.status === status) return info;
        if (TERMINAL_STATUSES.has(info.status)) {
          throw new Error(`agent ${agentId} ended as ${info.status}, not ${status}: ${JSON.stringify(info)}`);
        }
        return null;
      },
      timeoutMs,
    );
  }

  waitForEnd(agentId: string, timeoutMs?: number): Promise<AgentInfo> {
    return waitFor(
      `agent ${agentId} to end`,
      () => {
        const info = this.runner.get(agentId);
        return TERMINAL_STATUSES.has(info.status) ? info : null;
      },
      timeoutMs,
    );
  }

  waitForOutput(agentId: string, text: string, timeoutMs?: number): Promise<string> {
    return waitFor(
      `agent ${agentId} to print ${JSON.stringify(text)}`,
      () => {
        const out = this.stdout(agentId);
        return out.includes(text) ? out : null;
      },
      timeoutMs,
    );
  }

  lifecycleOf(agentId: string): LifecycleEvent[] {
    return this.lifecycle.filter((event) => event.agentId === agentId);
  }

  async dispose(): Promise<void> {
    await this.runner.stopAll(200);
    await this.runner.close();
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}
