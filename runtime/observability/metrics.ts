/**
 * Prometheus metrics for the agent server, plus the plain counters the `stats` method returns.
 * Label values come from fixed sets (method names, error codes), never from client input.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { METRIC_LABELS, SERVER_METRIC_NAMES } from "../config/names.js";
import { AGENT_STATUSES, METHODS, type AgentStatus } from "../protocol/index.js";
import { EVICTION_KINDS, type MemoryBudgetStats } from "../runner/memory-budget.js";
import { MethodTally, RequestMetrics } from "./request-metrics.js";

/** Request duration buckets, in seconds: from a fast health answer to a slow spawn. */
const REQUEST_DURATION_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

function requestTotals(tallies: Iterable<MethodTally>): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const tally of tallies) if (tally.count > 0) totals[tally.method] = tally.count;
  return totals;
}

function errorTotals(tallies: Iterable<MethodTally>): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const tally of tallies) {
    for (const [code, count] of tally.errors) totals[code] = (totals[code] ?? 0) + count;
  }
  return totals;
}

/** What the metrics read from the process runner at scrape time. */
export interface AgentGaugeSource {
  countsByStatus(): Record<AgentStatus, number>;
  droppedBytesTotal(): number;
  memoryBudget(): MemoryBudgetStats;
}

/** The memory budget's metric names (docs/operations.md; the alerts in constructs/monitoring.ts). */
export const MEMORY_BUDGET_METRICS = {
  limit: "zeroplane_memory_budget_bytes",
  used: "zeroplane_memory_budget_used_bytes",
  evictedBytes: "zeroplane_memory_budget_evicted_bytes_total",
  evictedRecords: "zeroplane_memory_budget_evicted_records_total",
} as const;

const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS);

/** A method name safe to use as a label: hostile input must not mint label values. */
export function methodLabel(method: unknown): string {
  return typeof method === "string" && KNOWN_METHODS.has(method) ? method : "unknown";
}

/** Help text of the server's plain counters, keyed like SERVER_METRIC_NAMES. */
const COUNTER_HELP = {
  spawns: "Agents spawned (including those whose process failed to start).",
  spawnFailures: "Spawns that failed: refused by the runner or the process could not start.",
  authRejections: "Clients refused by ZAP (CURVE key not in the allowlist).",
  handshakeFailures: "ZMTP security handshakes that failed, such as a client using the wrong server key.",
  malformedMessages: "Messages that were not a valid request envelope.",
  idempotentReplays: "Spawns answered from the idempotency cache instead of starting a new agent.",
  streamEventsDropped: "PUB stream events dropped because the publish queue was full.",
  allowlistRevocations:
    "Client keys removed from the allowlist by a reload (each removal closes every client connection).",
  connectionRecycles:
    "Times every client connection was closed (sockets unbound and re-bound) so clients re-authenticate.",
} as const;
type CounterKey = keyof typeof COUNTER_HELP;

export class ServerMetrics {
  readonly registry: Registry;
  private readonly requestMetrics: RequestMetrics;
  private readonly spawns: Counter;
  private readonly spawnFailures: Counter;
  private readonly authRejectionsCounter: Counter<"reason">;
  private readonly handshakeFailures: Counter<"reason">;
  private readonly malformed: Counter<"reason">;
  private readonly replays: Counter;
  private readonly streamDrops: Counter;
  private readonly revocations: Counter;
  private readonly recycles: Counter;
  private source: AgentGaugeSource | null = null;

  /** Plain totals for the `stats` method (requests and errors are summed from the tallies on read). */
  readonly totals: {
    readonly requests: Record<string, number>;
    readonly errors: Record<string, number>;
    spawns: number;
    spawnFailures: number;
    authRejections: number;
    idempotentReplays: number;
  };

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const tallies = () => this.requestMetrics.tallies();
    this.totals = {
      get requests() {
        return requestTotals(tallies());
      },
      get errors() {
        return errorTotals(tallies());
      },
      spawns: 0,
      spawnFailures: 0,
      authRejections: 0,
      idempotentReplays: 0,
    };
    collectDefaultMetrics({ register: registry });
    const counter = (key: CounterKey): Counter =>
      new Counter({ name: SERVER_METRIC_NAMES[key], help: COUNTER_HELP[key], registers: [registry] });
    const reasonCounter = (key: CounterKey): Counter<"reason"> =>
      new Counter({
        name: SERVER_METRIC_NAMES[key],
        help: COUNTER_HELP[key],
        labelNames: [METRIC_LABELS.reason],
        registers: [registry],
      });
    this.requestMetrics = new RequestMetrics(
      registry,
      { requests: SERVER_METRIC_NAMES.requests, duration: SERVER_METRIC_NAMES.requestDuration },
      { method: METRIC_LABELS.method, result: METRIC_LABELS.result },
      REQUEST_DURATION_BUCKETS,
    );
    this.spawns = counter("spawns");
    this.spawnFailures = counter("spawnFailures");
    this.authRejectionsCounter = reasonCounter("authRejections");
    this.handshakeFailures = reasonCounter("handshakeFailures");
    this.malformed = reasonCounter("malformedMessages");
    this.replays = counter("idempotentReplays");
    this.streamDrops = counter("streamEventsDropped");
    this.revocations = counter("allowlistRevocations");
    this.recycles = counter("connectionRecycles");
    // prom-client calls collect() with the metric as `this`, so read the source through a closure.
    const source = () => this.source;
    new Gauge({
      name: SERVER_METRIC_NAMES.agents,
      help: "Agents known to the server, by status.",
      labelNames: [METRIC_LABELS.status],
      registers: [registry],
      collect() {
        const counts = source()?.countsByStatus();
        for (const status of AGENT_STATUSES) this.set({ status }, counts?.[status] ?? 0);
      },
    });
    let droppedSeen = 0;
    new Counter({
      name: SERVER_METRIC_NAMES.outputBytesDropped,
      help: "Agent output bytes dropped by the per-stream output cap.",
      registers: [registry],
      collect() {
        const total = source()?.droppedBytesTotal() ?? droppedSeen;
        if (total > droppedSeen) this.inc(total - droppedSeen);
        droppedSeen = Math.max(droppedSeen, total);
      },
    });
    new Gauge({
      name: MEMORY_BUDGET_METRICS.limit,
      help: "The memory budget for retained agent output and records (runner.memoryBudgetBytes, or derived from the container memory limit).",
      registers: [registry],
      collect() {
        this.set(source()?.memoryBudget().limitBytes ?? 0);
      },
    });
    new Gauge({
      name: MEMORY_BUDGET_METRICS.used,
      help: "Bytes charged against the memory budget, by kind: output (running and finished agents) and records (agent records with their params).",
      labelNames: ["kind"],
      registers: [registry],
      collect() {
        const stats = source()?.memoryBudget();
        this.set({ kind: "output" }, stats?.outputBytes ?? 0);
        this.set({ kind: "records" }, stats?.recordBytes ?? 0);
      },
    });
    const evictedSeen = new Map<string, number>();
    new Counter({
      name: MEMORY_BUDGET_METRICS.evictedBytes,
      help: "Bytes evicted to keep the server under its memory budget, by kind: finished_output, finished_record, running_output.",
      labelNames: ["kind"],
      registers: [registry],
      collect() {
        const evicted = source()?.memoryBudget().evictedBytes;
        for (const kind of EVICTION_KINDS) {
          const total = evicted?.[kind] ?? 0;
          const seen = evictedSeen.get(kind) ?? 0;
          this.inc({ kind }, Math.max(0, total - seen));
          evictedSeen.set(kind, Math.max(seen, total));
        }
      },
    });
    let recordsSeen = 0;
    new Counter({
      name: MEMORY_BUDGET_METRICS.evictedRecords,
      help: "Finished agents' records evicted before their retention period ended, to stay under the memory budget.",
      registers: [registry],
      collect() {
        const total = source()?.memoryBudget().evictedRecords ?? recordsSeen;
        if (total > recordsSeen) this.inc(total - recordsSeen);
        recordsSeen = Math.max(recordsSeen, total);
      },
    });
  }

  /** Where the agent gauges read from. */
  attachAgents(source: AgentGaugeSource): void {
    this.source = source;
  }

  /**
   * Where to count one method's requests: `tally.record(result, seconds)`. Look it up once per
   * method; recording then does no label lookups. `method` must come from a fixed set (methodLabel).
   */
  requestTally(method: string): MethodTally {
    return this.requestMetrics.tally(method);
  }

  recordRequest(method: string, result: string, seconds: number): void {
    this.requestMetrics.tally(method).record(result, seconds);
  }

  recordSpawn(failed: boolean): void {
    this.spawns.inc();
    this.totals.spawns++;
    if (failed) this.recordSpawnFailure();
  }

  /** A spawn refused before a process was tried (capacity, bad command). */
  recordSpawnFailure(): void {
    this.spawnFailures.inc();
    this.totals.spawnFailures++;
  }

  recordAuthRejection(reason: string): void {
    this.authRejectionsCounter.inc({ reason });
    this.totals.authRejections++;
  }

  recordHandshakeFailure(reason: string): void {
    this.handshakeFailures.inc({ reason });
  }

  recordMalformed(reason: string): void {
    this.malformed.inc({ reason });
  }

  recordReplay(): void {
    this.replays.inc();
    this.totals.idempotentReplays++;
  }

  recordStreamDrop(): void {
    this.streamDrops.inc();
  }

  /** Keys removed from the allowlist by one reload. */
  recordRevocations(keys: number): void {
    if (keys > 0) this.revocations.inc(keys);
  }

  /** The server closed every client connection so that each client re-authenticates. */
  recordConnectionRecycle(): void {
    this.recycles.inc();
  }
}
