/**
 * The contract between the agent server and the process runner.
 * The runner owns child processes; the server owns sockets, validation and idempotency.
 */
import type {
  AgentInfo,
  AgentStatus,
  LifecycleEvent,
  ListResult,
  OutputResult,
  ParsedParams,
  StreamEvent,
} from "../protocol/index.js";
import type { MemoryBudgetStats } from "./memory-budget.js";
import type { RunnerMode } from "../config/index.js";
import type { LimitPolicy } from "./limits.js";

export interface AgentRunnerOptions {
  /** Stamped on every AgentInfo and lifecycle event. */
  readonly serverId: string;
  /** Spawns beyond this many non-terminal agents fail with CAPACITY. */
  readonly maxAgents: number;
  /** Per-stream output buffer; the oldest bytes are dropped beyond it. */
  readonly outputCapBytes: number;
  /** How long finished agents are kept before eviction. */
  readonly retentionMs: number;
  /**
   * Bytes of output and agent records (with params) kept in memory, running agents included; past it
   * the oldest retained data is evicted (docs/operations.md). 0 or absent: derived from the container
   * memory limit (memory-budget.ts).
   */
  readonly memoryBudgetBytes?: number;
  /** Default time between SIGTERM and SIGKILL for "stop". */
  readonly stopGraceMs: number;
  /** Writable directory for agent records, used to reap orphans after a crash. */
  readonly stateDir: string;
  /** Default and maximum per-agent limits. @default no limits */
  readonly limits?: LimitPolicy;
  /** Where agents run (see docs/runner.md). @default { mode: "inline" } */
  readonly isolation?: RunnerIsolation;
}

/** How the server reaches the process that starts agents. */
export interface RunnerIsolation {
  readonly mode: RunnerMode;
  /** Mode "socket": the runner's listening socket. */
  readonly socket?: string;
  /** Mode "process", server running as root: the uid and gid the runner (and so every agent) runs as. */
  readonly agentUid?: number;
  readonly agentGid?: number;
  /** How long to wait for the runner to listen (process) or for its socket to appear (socket). @default 30000 */
  readonly connectTimeoutMs?: number;
}

/** Events the runner emits. */
export interface AgentRunnerEvents {
  /** Every lifecycle change, in order per agent, with a per-agent sequence number. */
  lifecycle: (event: LifecycleEvent) => void;
  /** Status changes and output chunks, for the PUB stream. */
  stream: (event: StreamEvent) => void;
}

export interface AgentRunner {
  /**
   * Starts an agent. Resolves with status running, or failed if the process could not start. Throws CAPACITY.
   * `agentId`, when given, is the new agent's id (the cluster registry claims it before the start).
   */
  spawn(params: ParsedParams<"spawn">, agentId?: string): Promise<AgentInfo>;
  /** pause, resume, stop, kill, signal, write. Throws NOT_FOUND or INVALID_STATE. */
  control(params: ParsedParams<"control">): Promise<AgentInfo>;
  /** Throws NOT_FOUND. */
  get(agentId: string): AgentInfo;
  list(params: ParsedParams<"list">): ListResult;
  /** Throws NOT_FOUND. */
  output(params: ParsedParams<"output">): OutputResult;
  /** Agents not in a terminal status. */
  activeCount(): number;
  countsByStatus(): Record<AgentStatus, number>;
  /** Total output bytes dropped by the cap, across all agents ever run. */
  droppedBytesTotal(): number;
  /** The memory budget's limit, use and evictions. */
  memoryBudget(): MemoryBudgetStats;
  /** Stops every active agent gracefully (SIGTERM, then SIGKILL after graceMs) and waits for them. */
  stopAll(graceMs: number): Promise<void>;
  /** Releases timers; does not stop agents. */
  close(): Promise<void>;
  on<E extends keyof AgentRunnerEvents>(event: E, listener: AgentRunnerEvents[E]): this;
  off<E extends keyof AgentRunnerEvents>(event: E, listener: AgentRunnerEvents[E]): this;
}
