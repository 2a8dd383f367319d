/**
 * What each protocol method does, given params the dispatcher (handler.ts) has already validated:
 * draining, capacity and idempotency rules for spawn, batches, health and stats, and the runner
 * calls. Nothing here parses client input or counts requests.
 */
import type { EventSink } from "../events/api.js";
import type { ServerMetrics } from "../observability/metrics.js";
import {
  ERROR_CODES,
  PROTOCOL_VERSION,
  ProtocolError,
  type AgentInfo,
  type BatchControlResult,
  type HealthResult,
  type Method,
  type MethodResults,
  type ParsedParams,
  type StatsResult,
  toProtocolError,
} from "../protocol/index.js";
import type { AgentRunner } from "../runner/api.js";
import { VERSION } from "../version.js";
import type { ClusterView } from "./cluster.js";
import { IdempotencyCache } from "./idempotency.js";

/** Server state the methods read: whether it is draining and whether it is ready. */
export interface HandlerState {
  readonly serverId: string;
  readonly maxAgents: number;
  readonly startedAt: number;
  draining(): boolean;
  ready(): boolean;
  /** The JetStream sink, when NATS is enabled. */
  sink(): EventSink | null;
}

export interface MethodDeps {
  readonly runner: AgentRunner;
  readonly metrics: ServerMetrics;
  readonly state: HandlerState;
  readonly idempotencyWindowMs: number;
  /** The idempotency window's clock. @default Date.now */
  readonly now?: () => number;
  /** The cluster registry's view (nats.registry), once NATS is set up; null answers from this server only. */
  readonly cluster?: () => ClusterView | null;
}

/** One implementation per method. A method answers synchronously where it can (health, get, list…). */
export type MethodTable = {
  readonly [M in Method]: (params: ParsedParams<M>) => Promise<MethodResults[M]> | MethodResults[M];
};

/** How many agents a continue-mode batch controls at once. */
const BATCH_CONCURRENCY = 64;

function requireActionArguments(params: { action: string; signal?: string; data?: unknown }): void {
  if (params.action === "signal" && params.signal === undefined) {
    throw new ProtocolError(
      ERROR_CODES.BAD_REQUEST,
      'invalid params: params.signal is required for action "signal" (for example "SIGUSR1")',
    );
  }
  if (params.action === "write" && params.data === undefined) {
    throw new ProtocolError(
      ERROR_CODES.BAD_REQUEST,
      'invalid params: params.data is required for action "write" (a string or bytes for stdin)',
    );
  }
}

export function createMethods(deps: MethodDeps): MethodTable {
  const { runner, metrics, state } = deps;
  const idempotency = new IdempotencyCache(deps.idempotencyWindowMs, undefined, deps.now);

  function controlAgent(params: ParsedParams<"control">): Promise<AgentInfo> {
    const cluster = deps.cluster?.();
    return cluster ? cluster.control(params) : runner.control(params);
  }

  function startAgent(params: ParsedParams<"spawn">, agentId?: string): Promise<AgentInfo> {
    return runner.spawn(params, agentId).then(
      (agent) => {
        metrics.recordSpawn(agent.status === "failed");
        return agent;
      },
      (error: unknown) => {
        metrics.recordSpawnFailure();
        throw error;
      },
    );
  }

  function spawn(params: ParsedParams<"spawn">): Promise<AgentInfo> {
    const key = params.idempotencyKey;
    if (key !== undefined) {
      const previous = idempotency.lookup(key);
      if (previous) {
        metrics.recordReplay();
        return previous;
      }
    }
    if (state.draining()) {
      throw new ProtocolError(ERROR_CODES.DRAINING, "the server is shutting down; spawn on another server");
    }
    const refusal = state.sink()?.spawnRefusal() ?? null;
    if (refusal !== null) throw new ProtocolError(ERROR_CODES.UNAVAILABLE, refusal);
    // With the cluster registry a keyed spawn claims its key cluster-wide first (cluster.ts).
    const cluster = key === undefined ? null : (deps.cluster?.() ?? null);
    const started =
      cluster && key !== undefined
        ? cluster.spawnOnce(
            params,
            key,
            (agentId) => startAgent(params, agentId),
            () => metrics.recordReplay(),
          )
        : startAgent(params);
    if (key !== undefined) idempotency.remember(key, started);
    return started;
  }

  async function batchControl(params: ParsedParams<"batchControl">): Promise<BatchControlResult> {
    const { agentIds, mode, ...control } = params;
    requireActionArguments(control);
    const results: BatchControlResult["results"][number][] = new Array(agentIds.length);
    const controlOne = async (index: number): Promise<boolean> => {
      const agentId = agentIds[index]!;
      try {
        const agent = await controlAgent({ ...control, agentId });
        results[index] = { agentId, ok: true, agent };
        return true;
      } catch (error) {
        results[index] = { agentId, ok: false, error: toProtocolError(error).toBody() };
        return false;
      }
    };
    if (mode === "fail-fast") {
      let failed = false;
      for (let index = 0; index < agentIds.length; index++) {
        if (failed) results[index] = { agentId: agentIds[index]!, ok: false, skipped: true };
        else failed = !(await controlOne(index));
      }
    } else {
      let next = 0;
      const worker = async () => {
        while (next < agentIds.length) await controlOne(next++);
      };
      await Promise.all(Array.from({ length: Math.min(BATCH_CONCURRENCY, agentIds.length) }, worker));
    }
    return { results };
  }

  function health(): HealthResult {
    const activeAgents = runner.activeCount();
    return {
      healthy: true,
      ready: state.ready(),
      draining: state.draining(),
      serverId: state.serverId,
      version: VERSION,
      protocolVersion: PROTOCOL_VERSION,
      uptimeMs: Date.now() - state.startedAt,
      activeAgents,
      maxAgents: state.maxAgents,
      load: Math.min(1, activeAgents / state.maxAgents),
    };
  }

  function stats(): StatsResult {
    const totals = metrics.totals;
    return {
      serverId: state.serverId,
      requests: { ...totals.requests },
      errors: { ...totals.errors },
      spawns: totals.spawns,
      spawnFailures: totals.spawnFailures,
      agentsByStatus: runner.countsByStatus(),
      authRejections: totals.authRejections,
      outputBytesDropped: runner.droppedBytesTotal(),
      idempotentReplays: totals.idempotentReplays,
    };
  }

  return {
    spawn,
    control: (params) => {
      requireActionArguments(params);
      return controlAgent(params);
    },
    batchControl,
    list: (params) => deps.cluster?.()?.list(params) ?? runner.list(params),
    get: (params) => {
      const cluster = deps.cluster?.();
      return cluster ? cluster.get(params.agentId) : runner.get(params.agentId);
    },
    output: (params) => {
      const cluster = deps.cluster?.();
      return cluster ? cluster.output(params) : runner.output(params);
    },
    health,
    stats,
  };
}
