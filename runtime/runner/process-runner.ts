/**
 * The process runner: starts agents as child processes, each the leader of its own process group,
 * drives their status, keeps their output, and makes sure none outlives the server.
 *
 * Status machine (see docs/runner.md):
 *   starting → running ⇄ paused;  starting|running|paused → stopping;
 *   any live status → exited (code) | killed (signal) | timed_out;  starting → failed (spawn error).
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import {
  AGENT_STATUSES,
  ProtocolError,
  type AgentInfo,
  type AgentStatus,
  type LifecycleEvent,
  type LifecycleEventType,
  type ListResult,
  type OutputResult,
  type OutputStream,
  type ParsedParams,
  type StreamEvent,
} from "../protocol/index.js";
import { Agent } from "./agent.js";
import type { AgentRunner, AgentRunnerEvents, AgentRunnerOptions } from "./api.js";
import type { ProcessLauncher } from "./launcher.js";
import { describeLimitEnd, effectiveLimits } from "./limits.js";
import {
  MemoryBudget,
  resolveMemoryBudget,
  type EvictionKind,
  type MemoryBudgetStats,
} from "./memory-budget.js";
import { isSignalName } from "./process-groups.js";
import type { ReapReport } from "./records.js";

/** After the leader exits, how long to wait for its output pipes to close before closing them ourselves. */
const DRAIN_TIMEOUT_MS = 2_000;
/** Unwritten stdin beyond this makes "write" fail instead of growing the server's memory. */
const MAX_STDIN_BACKLOG_BYTES = 16 * 1024 * 1024;
/** A list page stops once its agents' records reach this many budget bytes, so a reply stays bounded. */
export const LIST_PAGE_MAX_RECORD_BYTES = 8 * 1024 * 1024;
/** Running streams keep this many bytes before finished agents' records are evicted. */
export const RUNNING_OUTPUT_FLOOR_BYTES = 64 * 1024;

type ControlParams = ParsedParams<"control">;

export class ProcessRunner implements AgentRunner {
  private readonly agents = new Map<string, Agent>();
  private readonly counts: Record<AgentStatus, number> = Object.fromEntries(
    AGENT_STATUSES.map((status) => [status, 0]),
  ) as Record<AgentStatus, number>;
  private readonly events = new EventEmitter();
  private nextOrder = 1;
  private active = 0;
  private droppedTotal = 0;
  private closed = false;
  private readonly budget: MemoryBudget;
  /** Finished agents whose output is still in memory, oldest finished first: evicted first. */
  private readonly finishedWithOutput = new Map<string, Agent>();
  /** Finished agents still retained, oldest finished first: their records go next. */
  private readonly finishedRecords = new Map<string, Agent>();

  /** Use createAgentRunner(): it opens the launcher (inline, or a separate runner process) first. */
  constructor(
    private readonly options: AgentRunnerOptions,
    private readonly launcher: ProcessLauncher,
  ) {
    this.events.setMaxListeners(0);
    const budget = resolveMemoryBudget(options.memoryBudgetBytes);
    this.budget = new MemoryBudget(budget.bytes, budget.source);
  }

  /** What opening the stateDir found and killed from a previous run. */
  get reapedAtStartup(): ReapReport {
    return this.launcher.reapedAtStartup;
  }

  /** This runner start's id, set as AGENT_RUNNER_INSTANCE in every agent's environment. */
  get instanceId(): string {
    return this.launcher.instanceId;
  }

  /** The watchdog's pid, or null if it is not running here (for diagnostics and tests). */
  get watchdogPid(): number | null {
    return this.launcher.watchdogPid;
  }

  on<E extends keyof AgentRunnerEvents>(event: E, listener: AgentRunnerEvents[E]): this {
    this.events.on(event, listener);
    return this;
  }

  off<E extends keyof AgentRunnerEvents>(event: E, listener: AgentRunnerEvents[E]): this {
    this.events.off(event, listener);
    return this;
  }

  async spawn(params: ParsedParams<"spawn">, agentId?: string): Promise<AgentInfo> {
    if (this.closed) throw new ProtocolError("UNAVAILABLE", "the process runner is closed; no new agents");
    const { maxAgents, serverId } = this.options;
    if (this.active >= maxAgents) {
      throw new ProtocolError(
        "CAPACITY",
        `server ${serverId} is at capacity: ${this.active} active agents, limit ${maxAgents} (max_agents); ` +
          "retry later or on another server",
      );
    }
    const limits = effectiveLimits(params.limits, this.options.limits);
    if (agentId !== undefined && this.agents.has(agentId)) {
      throw new ProtocolError("INTERNAL", `agent id ${agentId} is already in use on this server`);
    }
    const agent = new Agent(
      agentId ?? randomUUID(),
      this.nextOrder++,
      serverId,
      params,
      Date.now(),
      this.options.outputCapBytes,
    );
    agent.limits = limits;
    this.admit(agent);
    this.launch(agent, params);
    return agent.settled;
  }

  async control(params: ControlParams): Promise<AgentInfo> {
    const agent = this.find(params.agentId);
    switch (params.action) {
      case "pause":
        this.pause(agent);
        break;
      case "resume":
        this.resume(agent);
        break;
      case "stop":
        this.stop(agent, params.graceMs ?? this.options.stopGraceMs);
        break;
      case "kill":
        this.kill(agent);
        break;
      case "signal":
        this.signal(agent, params.signal);
        break;
      case "write":
        this.write(agent, params.data, params.end ?? false);
        break;
    }
    return agent.snapshot();
  }

  get(agentId: string): AgentInfo {
    return this.find(agentId).snapshot();
  }

  list(params: ParsedParams<"list">): ListResult {
    const after = params.cursor === undefined ? 0 : decodeCursor(params.cursor);
    const statuses = params.status && params.status.length > 0 ? new Set(params.status) : null;
    const labels = params.labels ?? {};
    const page: AgentInfo[] = [];
    let pageBytes = 0;
    let total = 0;
    let last = 0;
    let more = false;
    for (const agent of this.agents.values()) {
      if (statuses && !statuses.has(agent.status)) continue;
      if (!agent.hasLabels(labels)) continue;
      total++;
      if (agent.order <= after) continue;
      const fits = page.length === 0 || pageBytes + agent.recordBytes <= LIST_PAGE_MAX_RECORD_BYTES;
      if (!more && page.length < params.limit && fits) {
        page.push(agent.snapshot());
        pageBytes += agent.recordBytes;
        last = agent.order;
      } else {
        more = true;
      }
    }
    return { agents: page, nextCursor: more ? encodeCursor(last) : null, total };
  }

  output(params: ParsedParams<"output">): OutputResult {
    const agent = this.find(params.agentId);
    const buffer = agent.output[params.stream];
    const slice =
      params.tail !== undefined
        ? buffer.readTail(params.tail, params.limit)
        : buffer.read(
            params.offset ?? (params.sinceMs !== undefined ? buffer.offsetSince(params.sinceMs) : 0),
            params.limit,
          );
    return {
      stream: params.stream,
      data: slice.data,
      offset: slice.offset,
      nextOffset: slice.nextOffset,
      dropped: slice.dropped,
      eof: agent.terminal && slice.nextOffset === buffer.total,
      ...(params.times ? { times: slice.times } : {}),
    };
  }

  activeCount(): number {
    return this.active;
  }

  countsByStatus(): Record<AgentStatus, number> {
    return { ...this.counts };
  }

  droppedBytesTotal(): number {
    return this.droppedTotal;
  }

  memoryBudget(): MemoryBudgetStats {
    return this.budget.stats();
  }

  async stopAll(graceMs: number): Promise<void> {
    const live = [...this.agents.values()].filter((agent) => !agent.terminal);
    for (const agent of live) {
      if (agent.status !== "stopping" && agent.pid !== null && !agent.leaderExited)
        this.beginStop(agent, graceMs);
    }
    await Promise.all(live.map((agent) => agent.ended));
  }

  /**
   * Releases timers, the records file and the watchdog, and lets this process exit; does not stop agents.
   * Agents still running keep running while this process lives; the watchdog stays armed for them and
   * kills them when this process exits. Call stopAll() first for a graceful shutdown.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const agent of this.agents.values()) {
      agent.clearTimers();
      agent.process?.unref();
    }
    await this.launcher.close();
  }

  /** Writes the agent records to stateDir now instead of with the next batch. */
  flushRecords(): Promise<void> {
    return this.launcher.flush();
  }

  // ---- transitions ---------------------------------------------------------------------------

  private launch(agent: Agent, params: ParsedParams<"spawn">): void {
    agent.process = this.launcher.launch(
      {
        agentId: agent.id,
        command: params.command,
        args: params.args,
        cwd: params.cwd,
        env: params.env,
        limits: agent.limits,
      },
      {
        onSpawn: (pid) => {
          agent.pid = pid;
          this.onStarted(agent);
        },
        onError: (message) => this.fail(agent, message),
        onOutput: (stream, chunk) => this.onOutput(agent, stream, chunk),
        onExit: (code, signal) => this.onLeaderExit(agent, code, signal),
        onClose: () => this.finish(agent),
        // EPIPE: the agent closed its stdin or died. Later writes report INVALID_STATE.
        onStdinClosed: () => (agent.stdinEnded = true),
      },
    );
  }

  private onStarted(agent: Agent): void {
    agent.startedAt = Date.now();
    if (agent.status === "starting") this.transition(agent, "running", "started");
    const timeoutMs = agent.params.timeoutMs;
    if (timeoutMs !== undefined && !agent.leaderExited) {
      agent.timers.timeout = setTimeout(() => this.onTimeout(agent), timeoutMs);
      agent.timers.timeout.unref();
    }
    agent.markSettled();
  }

  private onTimeout(agent: Agent): void {
    if (agent.terminal || agent.leaderExited || agent.status === "stopping") return;
    agent.timedOut = true;
    this.beginStop(agent, this.options.stopGraceMs);
  }

  private onLeaderExit(agent: Agent, code: number | null, signal: NodeJS.Signals | null): void {
    agent.leaderExited = true;
    agent.exitCode = code;
    agent.signal = code === null ? signal : null;
    clearTimeout(agent.timers.kill);
    clearTimeout(agent.timers.timeout);
    // The launcher has killed what the leader left in its group. Output still in the pipes arrives
    // before "close"; a grandchild that escaped the group could hold them open forever, so stop
    // waiting after a while.
    agent.timers.drain = setTimeout(() => {
      agent.process?.closeOutput();
      this.finish(agent);
    }, DRAIN_TIMEOUT_MS);
    agent.timers.drain.unref();
  }

  /** The process has exited and its output is drained: record the final status. */
  private finish(agent: Agent): void {
    if (agent.terminal || !agent.leaderExited) return;
    clearTimeout(agent.timers.drain);
    agent.stdinEnded = true;
    agent.endedAt = Date.now();
    // An end we did not ask for (stop, kill, timeout), under limits: say which limit explains it.
    if (agent.status !== "stopping" && !agent.timedOut) {
      agent.error = describeLimitEnd(agent.limits, agent.exitCode, agent.signal);
    }
    if (agent.timedOut) this.transition(agent, "timed_out", "timed_out");
    else if (agent.exitCode !== null) this.transition(agent, "exited", "exited");
    else this.transition(agent, "killed", "killed");
    this.retire(agent);
  }

  private fail(agent: Agent, message: string): void {
    if (agent.terminal) return;
    agent.error = message;
    agent.endedAt = Date.now();
    agent.stdinEnded = true;
    this.transition(agent, "failed", "failed");
    this.retire(agent);
  }

  /** A terminal agent: release its process, settle its promises, and schedule its eviction. */
  private retire(agent: Agent): void {
    agent.clearTimers();
    agent.process?.release();
    agent.process = null;
    agent.markSettled();
    agent.markEnded();
    if (this.closed) return;
    if (agent.outputHeldBytes > 0) this.finishedWithOutput.set(agent.id, agent);
    this.finishedRecords.set(agent.id, agent);
    agent.timers.evict = setTimeout(() => this.forget(agent), this.options.retentionMs);
    agent.timers.evict.unref();
  }

  // ---- memory budget (docs/operations.md) ------------------------------------------------------

  /** Drops a finished agent's record and output from memory. Returns the budget bytes freed. */
  private forget(agent: Agent): number {
    clearTimeout(agent.timers.evict);
    const freed = this.releaseOutput(agent) + agent.recordBytes;
    this.budget.chargeRecord(-agent.recordBytes);
    this.agents.delete(agent.id);
    this.finishedRecords.delete(agent.id);
    return freed;
  }

  /** Drops an agent's kept output (reads then report it as dropped). Returns the budget bytes freed. */
  private releaseOutput(agent: Agent): number {
    const held = agent.outputHeldBytes;
    agent.output.stdout.trimTo(0);
    agent.output.stderr.trimTo(0);
    this.budget.chargeOutput(-held);
    this.finishedWithOutput.delete(agent.id);
    return held;
  }

  /**
   * Past the budget, frees down to its eviction target: finished agents' output (the agent that
   * finished first first), then running agents' oldest output down to RUNNING_OUTPUT_FLOOR_BYTES per
   * stream, then finished agents' records (oldest first), then running output below that floor.
   * Running streams are trimmed to one common level, so the biggest lose most.
   */
  private enforceBudget(): void {
    if (!this.budget.over()) return;
    let excess = this.budget.excess();
    const evict = (kind: EvictionKind, bytes: number) => {
      this.budget.countEviction(kind, bytes);
      excess -= bytes;
    };
    for (const agent of this.finishedWithOutput.values()) {
      if (excess <= 0) return;
      evict("finished_output", this.releaseOutput(agent));
    }
    if (excess > 0) evict("running_output", this.trimRunningOutput(excess, RUNNING_OUTPUT_FLOOR_BYTES));
    for (const agent of this.finishedRecords.values()) {
      if (excess <= 0) return;
      evict("finished_record", this.forget(agent));
    }
    if (excess > 0) evict("running_output", this.trimRunningOutput(excess, 0));
  }

  /**
   * Trims running agents' output streams to one level, at least `floor`, that frees `bytes` if it can.
   * Returns the bytes freed.
   */
  private trimRunningOutput(bytes: number, floor: number): number {
    const streams = [...this.agents.values()]
      .filter((agent) => !agent.terminal)
      .flatMap((agent) => [agent.output.stdout, agent.output.stderr])
      .filter((buffer) => buffer.heldBytes > floor);
    if (streams.length === 0) return 0;
    const level = Math.max(
      floor,
      waterLevel(
        streams.map((buffer) => buffer.heldBytes),
        bytes,
      ),
    );
    let freed = 0;
    for (const buffer of streams) {
      const before = buffer.heldBytes;
      buffer.trimTo(level, true);
      freed += before - buffer.heldBytes;
    }
    this.budget.chargeOutput(-freed);
    return freed;
  }

  /** Counts a new agent in and announces it: status "starting" (previous null), lifecycle "spawned". */
  private admit(agent: Agent): void {
    this.agents.set(agent.id, agent);
    this.budget.chargeRecord(agent.recordBytes);
    this.enforceBudget();
    this.counts.starting++;
    this.active++;
    const info = agent.snapshot();
    this.emit("stream", { kind: "status", agent: info, previous: null });
    this.emitLifecycle(agent, "spawned", info);
  }

  private transition(agent: Agent, status: AgentStatus, lifecycle: LifecycleEventType | null): void {
    const previous = agent.status;
    const wasActive = !agent.terminal;
    this.counts[previous]--;
    this.counts[status]++;
    agent.status = status;
    this.active += Number(!agent.terminal) - Number(wasActive);
    const info = agent.snapshot();
    this.emit("stream", { kind: "status", agent: info, previous });
    if (lifecycle) this.emitLifecycle(agent, lifecycle, info);
  }

  private emitLifecycle(
    agent: Agent,
    type: LifecycleEventType,
    info: AgentInfo,
    detail?: Record<string, string | number>,
  ): void {
    const event: LifecycleEvent = {
      type,
      serverId: this.options.serverId,
      agentId: agent.id,
      seq: ++agent.lifecycleSeq,
      time: Date.now(),
      agent: info,
      ...(detail ? { detail } : {}),
    };
    this.emit("lifecycle", event);
  }

  private onOutput(agent: Agent, stream: OutputStream, chunk: Buffer): void {
    const buffer = agent.output[stream];
    const offset = buffer.total;
    const heldBefore = buffer.heldBytes;
    const dropped = buffer.append(chunk);
    this.budget.chargeOutput(buffer.heldBytes - heldBefore);
    this.enforceBudget();
    this.emit("stream", { kind: "output", agentId: agent.id, stream, offset, data: chunk });
    if (dropped === 0) return;
    this.droppedTotal += dropped;
    // Once per stream: the count keeps growing in AgentInfo.droppedBytes without an event per chunk.
    if (agent.truncationReported.has(stream)) return;
    agent.truncationReported.add(stream);
    this.emitLifecycle(agent, "output_truncated", agent.snapshot(), {
      stream,
      droppedBytes: buffer.dropped,
      capBytes: this.options.outputCapBytes,
    });
  }

  // ---- control actions -----------------------------------------------------------------------

  private pause(agent: Agent): void {
    this.require(agent, "pause", ["running"]);
    this.signalGroupOf(agent, "SIGSTOP");
    this.transition(agent, "paused", "paused");
  }

  private resume(agent: Agent): void {
    this.require(agent, "resume", ["paused"]);
    this.signalGroupOf(agent, "SIGCONT");
    this.transition(agent, "running", "resumed");
  }

  private stop(agent: Agent, graceMs: number): void {
    if (agent.status === "stopping") return;
    this.require(agent, "stop", ["starting", "running", "paused"]);
    this.beginStop(agent, graceMs);
  }

  private kill(agent: Agent): void {
    this.require(agent, "kill", ["starting", "running", "paused", "stopping"]);
    this.pidOf(agent);
    if (agent.status !== "stopping") this.transition(agent, "stopping", null);
    clearTimeout(agent.timers.kill);
    this.signalGroupOf(agent, "SIGKILL");
  }

  private signal(agent: Agent, name: string | undefined): void {
    if (name === undefined) {
      throw new ProtocolError("BAD_REQUEST", 'action "signal" needs a signal name, such as "SIGUSR1"');
    }
    if (!isSignalName(name)) {
      throw new ProtocolError(
        "BAD_REQUEST",
        `unknown signal ${JSON.stringify(name)}; use a name such as SIGUSR1`,
      );
    }
    // Stopping and continuing the group is what pause and resume do; keep the status truthful.
    if (name === "SIGSTOP" && agent.status === "running") return this.pause(agent);
    if (name === "SIGCONT" && agent.status === "paused") return this.resume(agent);
    if (name === "SIGKILL") return this.kill(agent);
    this.require(agent, `send ${name} to`, ["starting", "running", "paused", "stopping"]);
    this.signalGroupOf(agent, name);
  }

  private write(agent: Agent, data: string | Uint8Array | undefined, end: boolean): void {
    if (data === undefined && !end) {
      throw new ProtocolError("BAD_REQUEST", 'action "write" needs data, end: true, or both');
    }
    this.require(agent, "write to", ["starting", "running", "paused", "stopping"]);
    const stdin = agent.process;
    if (!stdin || agent.stdinEnded) {
      throw new ProtocolError(
        "INVALID_STATE",
        `agent ${agent.id} is ${agent.describeStatus()} but its stdin is closed; cannot write to it`,
      );
    }
    if (data !== undefined) {
      const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data);
      if (stdin.stdinBacklog + bytes.length > MAX_STDIN_BACKLOG_BYTES) {
        throw new ProtocolError(
          "UNAVAILABLE",
          `agent ${agent.id} has ${stdin.stdinBacklog} bytes of stdin not yet read; ` +
            `more would exceed ${MAX_STDIN_BACKLOG_BYTES} bytes; retry when the agent has read its input`,
        );
      }
      stdin.write(bytes);
    }
    if (end) {
      agent.stdinEnded = true;
      stdin.end();
    }
  }

  /** SIGTERM to the group (and SIGCONT, so a paused group can act on it), then SIGKILL after graceMs. */
  private beginStop(agent: Agent, graceMs: number): void {
    this.pidOf(agent);
    const wasPaused = agent.status === "paused";
    this.transition(agent, "stopping", null);
    this.signalGroupOf(agent, "SIGTERM");
    if (wasPaused) this.signalGroupOf(agent, "SIGCONT");
    clearTimeout(agent.timers.kill);
    agent.timers.kill = setTimeout(() => agent.process?.signal("SIGKILL"), graceMs);
    agent.timers.kill.unref();
  }

  // ---- helpers -------------------------------------------------------------------------------

  private find(agentId: string): Agent {
    const agent = this.agents.get(agentId);
    if (!agent) {
      throw new ProtocolError(
        "NOT_FOUND",
        `no agent ${JSON.stringify(agentId)} on server ${this.options.serverId}; ` +
          `it never existed here, ended more than ${this.options.retentionMs} ms ago, or was evicted ` +
          "early to keep the server under its memory budget",
      );
    }
    return agent;
  }

  private require(agent: Agent, action: string, allowed: readonly AgentStatus[]): void {
    if (allowed.includes(agent.status)) return;
    throw new ProtocolError(
      "INVALID_STATE",
      `agent ${agent.id} is ${agent.describeStatus()}; cannot ${action} it (only when ${allowed.join(" or ")})`,
    );
  }

  /** The group to signal. Only a spawn that is failing has none, and it is about to be "failed". */
  private pidOf(agent: Agent): number {
    if (agent.pid === null || agent.leaderExited) {
      throw new ProtocolError(
        "INVALID_STATE",
        `agent ${agent.id} is ${agent.describeStatus()} and has no running process to signal`,
      );
    }
    return agent.pid;
  }

  /** Signals the agent's process group; INVALID_STATE when it has no running process. */
  private signalGroupOf(agent: Agent, signal: NodeJS.Signals): void {
    this.pidOf(agent);
    agent.process?.signal(signal);
  }

  /** Emits to every listener; a listener that throws must not break the runner's bookkeeping. */
  private emit(event: "stream", payload: StreamEvent): void;
  private emit(event: "lifecycle", payload: LifecycleEvent): void;
  private emit(event: keyof AgentRunnerEvents, payload: StreamEvent | LifecycleEvent): void {
    for (const listener of this.events.listeners(event)) {
      try {
        (listener as (value: typeof payload) => void)(payload);
      } catch (error) {
        process.emitWarning(`a runner "${event}" listener threw: ${String(error)}`, "ZeroplaneRunnerWarning");
      }
    }
  }
}

/** The highest level L such that cutting every size down to L frees at least `bytes` (0 if none does). */
export function waterLevel(sizes: readonly number[], bytes: number): number {
  const sorted = [...sizes].sort((x, y) => x - y);
  let rest = sorted.reduce((sum, size) => sum + size, 0);
  for (let index = 0; index < sorted.length; index++) {
    const level = Math.floor((rest - bytes) / (sorted.length - index));
    if (level <= sorted[index]!) return Math.max(0, level);
    rest -= sorted[index]!;
  }
  return sorted.at(-1) ?? 0;
}

function encodeCursor(order: number): string {
  return Buffer.from(`after:${order}`).toString("base64url");
}

function decodeCursor(cursor: string): number {
  const match = /^after:(\d+)$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!match) {
    throw new ProtocolError(
      "BAD_REQUEST",
      `list cursor ${JSON.stringify(cursor)} is not valid; pass nextCursor from a previous list reply`,
    );
  }
  return Number(match[1]);
}
