/**
 * The validated request dispatcher shared by the ZeroMQ socket and NATS command intake:
 * checks the method, validates params with the protocol's zod schemas (BAD_REQUEST naming the
 * field), applies draining, capacity and idempotency rules, and calls the process runner.
 */
import type { z } from "zod";
import type { EventSink } from "../events/api.js";
import { methodLabel, type ServerMetrics } from "../observability/metrics.js";
import {
  ERROR_CODES,
  METHOD_PARAMS,
  PROTOCOL_VERSION,
  ProtocolError,
  type AgentInfo,
  type BatchControlResult,
  type HealthResult,
  type Method,
  type MethodResults,
  type ParsedParams,
  type RequestHandler,
  type StatsResult,
  toProtocolError,
} from "../protocol/index.js";
import type { AgentRunner } from "../runner/api.js";
import { VERSION } from "../version.js";
import type { ClusterView } from "./cluster.js";
import { withDeadline } from "./deadline.js";
import { IdempotencyCache } from "./idempotency.js";

/** Server state the handler reads: whether it is draining and whether it is ready. */
export interface HandlerState {
  readonly serverId: string;
  readonly maxAgents: number;
  readonly startedAt: number;
  draining(): boolean;
  ready(): boolean;
  /** The JetStream sink, when NATS is enabled. */
  sink(): EventSink | null;
}

export interface HandlerDeps {
  readonly runner: AgentRunner;
  readonly metrics: ServerMetrics;
  readonly state: HandlerState;
  readonly idempotencyWindowMs: number;
  /**
   * A request still running after this long is answered with TIMEOUT (retryable); the operation may
   * still complete. server.requestTimeoutMs.
   */
  readonly requestTimeoutMs: number;
  /** The idempotency window's clock. @default Date.now */
  readonly now?: () => number;
  /** The cluster registry's view (nats.registry), once NATS is set up; null answers from this server only. */
  readonly cluster?: () => ClusterView | null;
}

/** How many agents a continue-mode batch controls at once. */
const BATCH_CONCURRENCY = 64;

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max)}...` : text);

/** Formats the first zod issue as "params.<field>: <problem>". */
export function describeValidationError(method: string, error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return `invalid params for ${method}`;
  // Paths and zod's own messages (unrecognized keys) can hold client text: keep both short.
  const field = ["params", ...issue.path.map((part) => clip(String(part), 64))].join(".");
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problem(s))` : "";
  return `invalid params for ${method}: ${field}: ${clip(issue.message, 512)}${more}`;
}

function isMethod(method: unknown): method is Method {
  return typeof method === "string" && Object.prototype.hasOwnProperty.call(METHOD_PARAMS, method);
}

/** Parses params for a method, or throws BAD_REQUEST naming the first bad field. */
function parseParams<M extends Method>(method: M, params: unknown): ParsedParams<M> {
  const schema = METHOD_PARAMS[method] as unknown as z.ZodType<ParsedParams<M>>;
  const parsed = schema.safeParse(params === undefined || params === null ? {} : params);
  if (!parsed.success) {
    throw new ProtocolError(ERROR_CODES.BAD_REQUEST, describeValidationError(method, parsed.error));
  }
  return parsed.data;
}

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

export interface ServerRequestHandler {
  /** The dispatcher: validates, runs, records metrics. */
  readonly handle: RequestHandler;
  /** Resolves when no request is in flight. */
  idle(): Promise<void>;
  readonly inFlight: number;
}

export function createRequestHandler(deps: HandlerDeps): ServerRequestHandler {
  const { runner, metrics, state } = deps;
  const idempotency = new IdempotencyCache(deps.idempotencyWindowMs, undefined, deps.now);
  let inFlight = 0;
  let idleWaiters: Array<() => void> = [];

  const methods: {
    [M in Method]: (params: ParsedParams<M>) => Promise<MethodResults[M]> | MethodResults[M];
  } = {
    spawn: (params) => spawn(params),
    control: (params) => {
      requireActionArguments(params);
      return controlAgent(params);
    },
    batchControl: (params) => batchControl(params),
    list: (params) => deps.cluster?.()?.list(params) ?? runner.list(params),
    get: (params) => {
      const cluster = deps.cluster?.();
      return cluster ? cluster.get(params.agentId) : runner.get(params.agentId);
    },
    output: (params) => {
      const cluster = deps.cluster?.();
      return cluster ? cluster.output(params) : runner.output(params);
    },
    health: () => health(),
    stats: () => stats(),
  };

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

  const finish = () => {
    inFlight--;
    if (inFlight === 0 && idleWaiters.length) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const wake of waiters) wake();
    }
  };

  /** Validates and runs one request. Throws synchronously; returns a value (health, get…) or a promise. */
  function run(method: unknown, params: unknown): unknown {
    if (!isMethod(method)) {
      const shown = typeof method === "string" ? `"${method.slice(0, 64)}"` : typeof method;
      throw new ProtocolError(
        ERROR_CODES.UNKNOWN_METHOD,
        `unknown method ${shown}. Fix: use one of ${Object.keys(METHOD_PARAMS).join(", ")}.`,
      );
    }
    const implementation = methods[method] as (parsed: unknown) => Promise<unknown> | unknown;
    return implementation(parseParams(method, params));
  }

  const timeoutError = (label: string) => () =>
    new ProtocolError(
      ERROR_CODES.TIMEOUT,
      `${label} did not finish within ${deps.requestTimeoutMs} ms (server.requestTimeoutMs) and may still complete. Retry; a spawn retried with the same idempotencyKey returns its agent.`,
    );

  const handle = (async (method: unknown, params: unknown) => {
    const startedAt = performance.now();
    const label = methodLabel(method);
    inFlight++;
    let counted = false;
    try {
      let result = run(method, params);
      if (result instanceof Promise) {
        // In flight until the operation itself ends, also when its reply went out as TIMEOUT.
        result.then(finish, finish);
        counted = true;
        result = await withDeadline(result, deps.requestTimeoutMs, timeoutError(label));
      } else {
        // Answered synchronously (health, get, list…): no deadline timer on the hot path.
        finish();
        counted = true;
      }
      metrics.recordRequest(label, "ok", (performance.now() - startedAt) / 1000);
      return result;
    } catch (error) {
      if (!counted) finish();
      const wire = toProtocolError(error);
      metrics.recordRequest(label, wire.code, (performance.now() - startedAt) / 1000);
      if (wire !== error) throw Object.assign(wire, { cause: error });
      throw wire;
    }
  }) as RequestHandler;

  return {
    handle,
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve))),
    get inFlight() {
      return inFlight;
    },
  };
}
