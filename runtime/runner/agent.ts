/**
 * The runner's mutable record of one agent, and the AgentInfo snapshots taken from it.
 * The runner drives transitions; this module only holds state and describes it.
 */
import {
  TERMINAL_STATUSES,
  type AgentInfo,
  type AgentStatus,
  type OutputStream,
  type ParsedParams,
} from "../protocol/index.js";
import { estimateRecordBytes } from "./memory-budget.js";
import type { LaunchedProcess } from "./launcher.js";
import type { AgentLimits } from "./limits.js";
import { OutputBuffer } from "./output-buffer.js";

export class Agent {
  status: AgentStatus = "starting";
  pid: number | null = null;
  exitCode: number | null = null;
  signal: string | null = null;
  error: string | null = null;
  startedAt: number | null = null;
  endedAt: number | null = null;
  /** Last lifecycle sequence number handed out; the first event gets 1. */
  lifecycleSeq = 0;
  /** The running process, from launch until the agent is terminal. */
  process: LaunchedProcess | null = null;
  /** The limits the agent runs with (its request, or the server's defaults). */
  limits: AgentLimits = {};
  stdinEnded = false;
  /** Set when the agent's timeout fired: the agent ends as timed_out however the process dies. */
  timedOut = false;
  /** Set once the leader has exited and been reaped by Node. */
  leaderExited = false;
  readonly output: Record<OutputStream, OutputBuffer>;
  /** Streams that have already reported an output_truncated event. */
  readonly truncationReported = new Set<OutputStream>();
  readonly timers: {
    kill?: NodeJS.Timeout;
    timeout?: NodeJS.Timeout;
    evict?: NodeJS.Timeout;
    drain?: NodeJS.Timeout;
  } = {};
  /** Resolves once the agent is in a terminal status. */
  readonly ended: Promise<void>;
  markEnded!: () => void;
  /**
   * Resolves once the spawn attempt settled (running, or failed), with the agent as it was then: a
   * separate runner may report the start and the end in one read, and spawn answers "running".
   */
  readonly settled: Promise<AgentInfo>;
  private resolveSettled!: (info: AgentInfo) => void;
  private isSettled = false;

  /** The spawn request, minus env (it may hold the caller's secrets and is not needed after the spawn). */
  readonly params: Omit<ParsedParams<"spawn">, "env">;
  /** What this record and its params cost against the memory budget. */
  readonly recordBytes: number;

  constructor(
    readonly id: string,
    /** Creation order within the runner: list order and cursor position. */
    readonly order: number,
    readonly serverId: string,
    params: ParsedParams<"spawn">,
    readonly createdAt: number,
    outputCapBytes: number,
  ) {
    const { env: _env, ...rest } = params;
    this.params = Object.freeze({
      ...rest,
      args: Object.freeze([...params.args]) as string[],
      labels: Object.freeze({ ...params.labels }),
    });
    this.recordBytes = estimateRecordBytes(this.params);
    this.output = { stdout: new OutputBuffer(outputCapBytes), stderr: new OutputBuffer(outputCapBytes) };
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
    this.settled = new Promise((resolve) => (this.resolveSettled = resolve));
  }

  get terminal(): boolean {
    return TERMINAL_STATUSES.has(this.status);
  }

  /** Bytes of memory the kept output of both streams pins. */
  get outputHeldBytes(): number {
    return this.output.stdout.heldBytes + this.output.stderr.heldBytes;
  }

  /** Bytes dropped by the cap, both streams together. */
  get droppedBytes(): number {
    return this.output.stdout.dropped + this.output.stderr.dropped;
  }

  /** True when every label in `wanted` is set to the same value on this agent. */
  hasLabels(wanted: Readonly<Record<string, string>>): boolean {
    return Object.entries(wanted).every(([key, value]) => this.params.labels[key] === value);
  }

  /** Describes the status for error messages: "running", "exited with code 1", "killed by SIGKILL"… */
  describeStatus(): string {
    switch (this.status) {
      case "exited":
        return `exited with code ${this.exitCode}`;
      case "killed":
        return `killed by ${this.signal}`;
      case "failed":
        return `failed (${this.error})`;
      default:
        return this.status;
    }
  }

  snapshot(): AgentInfo {
    const { params } = this;
    return {
      id: this.id,
      serverId: this.serverId,
      name: params.name ?? null,
      command: params.command,
      args: params.args,
      cwd: params.cwd ?? null,
      labels: params.labels,
      status: this.status,
      pid: this.pid,
      exitCode: this.exitCode,
      signal: this.signal,
      error: this.error,
      timeoutMs: params.timeoutMs ?? null,
      createdAt: this.createdAt,
      startedAt: this.startedAt,
      endedAt: this.endedAt,
      outputBytes: { stdout: this.output.stdout.total, stderr: this.output.stderr.total },
      droppedBytes: { stdout: this.output.stdout.dropped, stderr: this.output.stderr.dropped },
    };
  }

  /** Settles the spawn attempt with a snapshot taken now (once; later calls do nothing). */
  markSettled(): void {
    if (this.isSettled) return;
    this.isSettled = true;
    this.resolveSettled(this.snapshot());
  }

  clearTimers(): void {
    for (const timer of Object.values(this.timers)) clearTimeout(timer);
    this.timers.kill = this.timers.timeout = this.timers.evict = this.timers.drain = undefined;
  }
}
