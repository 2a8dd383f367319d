/**
 * The Zeroplane client: one typed method per server method, over one DEALER socket per server.
 *
 * Every call has a deadline (default 30 s, retries included). Timeouts and errors the server marks
 * retryable are retried with exponential backoff and jitter; spawns always carry an idempotency key,
 * so a retry the server already applied returns the same agent instead of a second one.
 * With several servers, spawns are placed by load (or in turn), and calls about one agent go to the
 * server that owns it; that routing lives in cluster.ts, the retries and fan-out here.
 */
import { randomUUID } from "node:crypto";
import {
  ERROR_CODES,
  TERMINAL_STATUSES,
  type AgentInfo,
  type AgentStatus,
  type BatchControlParams,
  type BatchControlResult,
  type ControlParams,
  type HealthResult,
  type ListParams,
  type ListResult,
  type Method,
  type MethodParams,
  type MethodResults,
  type OutputParams,
  type OutputResult,
  type OutputStream,
  type SpawnParams,
  type StatsResult,
} from "../protocol/index.js";
import { backoffDelay, sleep, type BackoffOptions } from "./backoff.js";
import type { BreakerOptions, BreakerState } from "./breaker.js";
import { ServerCluster, decodeClusterCursor, mergeListPages, type Route } from "./cluster.js";
import type { ServerConnection } from "./connection.js";
import type { CurveClientKeys } from "./curve.js";
import { resolveEndpoints, splitEndpoints, type DnsResolver, type ServerAddress } from "./endpoints.js";
import {
  ClientClosedError,
  ClientUsageError,
  RemoteError,
  RequestTimeoutError,
  UnreachableError,
  ZeroplaneClientError,
} from "./errors.js";
import { EventStream, type StreamListener, type SubscribeOptions } from "./event-stream.js";
import { FollowBuffer } from "./follow-buffer.js";
import type { PlacementStrategy } from "./placement.js";
import type { ClientSocketOptions } from "./socket-options.js";

/** Output event bytes one follow() holds ahead of what it has yielded; past it, it reads by offset. */
export const FOLLOW_EVENT_BUFFER_BYTES = 8 * 1024 * 1024;

export interface ClientOptions {
  /** Server endpoints: `tcp://host:port`, or `dns://name:port` for every address of a name. Comma-separated or a list. */
  readonly endpoints: string | readonly string[];
  /** PUB endpoints, paired with `endpoints` by position. @default each ROUTER port + 1 */
  readonly publishEndpoints?: readonly string[];
  /** CURVE keys; null or absent for a plaintext (loopback) server. */
  readonly curve?: CurveClientKeys | null;
  /** Deadline of each call, retries included. Must be finite. @default 30000 */
  readonly timeoutMs?: number;
  /** Deadline of one attempt (capped by what is left of the call's deadline). @default 10000 */
  readonly attemptTimeoutMs?: number;
  /** An attempt that cannot reach its server in this long fails over. @default 5000 */
  readonly connectTimeoutMs?: number;
  /** Attempts per call, the first included. @default 5 */
  readonly maxAttempts?: number;
  /** Delays between attempts. */
  readonly backoff?: BackoffOptions;
  /** Per-server circuit breaker. */
  readonly breaker?: BreakerOptions;
  /** Where new agents go. @default "least-loaded" */
  readonly placement?: PlacementStrategy;
  /** How often each server's load is refreshed (0 = never). @default 5000 */
  readonly healthRefreshMs?: number;
  /** How often dns:// endpoints are resolved again (0 = never). @default 30000 */
  readonly dnsRefreshMs?: number;
  /** DNS resolver for dns:// endpoints. @default node's resolver */
  readonly resolver?: DnsResolver;
  /** Heartbeats, keepalive, high-water marks, handshake timeout. */
  readonly socket?: ClientSocketOptions;
}

export interface CallOptions {
  /** Overrides the client's deadline for this call. */
  readonly timeoutMs?: number;
}

/** One server as the client sees it. */
export interface ServerView {
  readonly endpoint: string;
  readonly publishEndpoint: string;
  readonly serverId: string | null;
  readonly connected: boolean;
  /** How long the server has refused connections with no handshake since (ms); 0 when not down. */
  readonly downForMs: number;
  readonly breaker: BreakerState;
  /** Active agents / max agents at the last health check, with spawns placed since; null before one. */
  readonly load: number | null;
}

/** A per-server answer from a call sent to every server. */
export type ServerOutcome<T> =
  | { readonly endpoint: string; readonly serverId: string | null; readonly ok: true; readonly result: T }
  | {
      readonly endpoint: string;
      readonly serverId: string | null;
      readonly ok: false;
      readonly error: ZeroplaneClientError | Error;
    };

/** A list across servers: the servers that could not answer are named, not hidden. */
export interface ClusterListResult extends ListResult {
  readonly unreachable: ReadonlyArray<{ readonly endpoint: string; readonly error: string }>;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isFinite(result) || result <= 0) {
    throw new ClientUsageError(
      `${name} must be a positive, finite number of milliseconds, got ${value}. Fix: use for example ${fallback}.`,
    );
  }
  return result;
}

export class ZeroplaneClient {
  /** Resolves the endpoints and opens a connection to each server. Connections complete in the background. */
  static async connect(options: ClientOptions): Promise<ZeroplaneClient> {
    const specs = splitEndpoints(options.endpoints);
    const addresses = await resolveEndpoints(specs, {
      publishEndpoints: options.publishEndpoints,
      resolver: options.resolver,
    });
    return new ZeroplaneClient(options, specs, addresses);
  }

  private readonly timeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly cluster: ServerCluster;
  private readonly timers: NodeJS.Timeout[] = [];
  private stream: EventStream | null = null;
  private closed = false;

  private constructor(
    private readonly options: ClientOptions,
    private readonly specs: readonly string[],
    addresses: readonly ServerAddress[],
  ) {
    this.timeoutMs = positive("timeoutMs", options.timeoutMs, 30_000);
    this.attemptTimeoutMs = positive("attemptTimeoutMs", options.attemptTimeoutMs, 10_000);
    this.maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 5));
    this.cluster = new ServerCluster(
      options.placement ?? "least-loaded",
      {
        socket: options.socket,
        curve: options.curve ?? null,
        breaker: options.breaker,
        connectTimeoutMs: options.connectTimeoutMs,
      },
      (connection) => this.stream?.addEndpoint(connection.publishEndpoint),
      (connection) => this.stream?.removeEndpoint(connection.publishEndpoint),
    );
    this.cluster.update(addresses);
    const healthRefreshMs = options.healthRefreshMs ?? 5_000;
    if (healthRefreshMs > 0) {
      this.refreshHealth();
      this.every(healthRefreshMs, () => this.refreshHealth());
    }
    const dnsRefreshMs = options.dnsRefreshMs ?? 30_000;
    if (dnsRefreshMs > 0 && specs.some((spec) => spec.startsWith("dns://"))) {
      this.every(dnsRefreshMs, () => void this.refreshEndpoints());
    }
  }

  // ---- Agents -------------------------------------------------------------------------------

  /**
   * Starts an agent on a server chosen by the placement strategy. The call carries an idempotency key
   * (the caller's, or a new one), so retries never start a second agent on a server that got the first.
   */
  async spawn(params: SpawnParams, options?: CallOptions): Promise<AgentInfo> {
    const withKey: SpawnParams = { ...params, idempotencyKey: params.idempotencyKey ?? randomUUID() };
    const connectWaitMs = this.options.connectTimeoutMs ?? 5_000;
    const route: Route = (context) => this.cluster.spawnTarget(context, connectWaitMs, () => this.closed);
    return this.call("spawn", withKey, route, options);
  }

  /** Any control action; prefer the named helpers below. */
  async control(params: ControlParams, options?: CallOptions): Promise<AgentInfo> {
    return this.callAboutAgent("control", params.agentId, params, options);
  }

  pause(agentId: string, options?: CallOptions): Promise<AgentInfo> {
    return this.control({ agentId, action: "pause" }, options);
  }

  resume(agentId: string, options?: CallOptions): Promise<AgentInfo> {
    return this.control({ agentId, action: "resume" }, options);
  }

  /** SIGTERM, then SIGKILL after `graceMs` (the server's default when absent). */
  stop(agentId: string, options?: CallOptions & { graceMs?: number }): Promise<AgentInfo> {
    return this.control({ agentId, action: "stop", graceMs: options?.graceMs }, options);
  }

  kill(agentId: string, options?: CallOptions): Promise<AgentInfo> {
    return this.control({ agentId, action: "kill" }, options);
  }

  signal(agentId: string, signal: string, options?: CallOptions): Promise<AgentInfo> {
    return this.control({ agentId, action: "signal", signal }, options);
  }

  /** Writes to the agent's stdin; `end` closes it afterwards. */
  write(
    agentId: string,
    data: NonNullable<ControlParams["data"]>,
    options?: CallOptions & { end?: boolean },
  ): Promise<AgentInfo> {
    return this.control({ agentId, action: "write", data, end: options?.end }, options);
  }

  /**
   * One action on many agents. Agents are grouped by the server that owns them; results come back in
   * the order of `agentIds`. With several servers, "fail-fast" stops per server, not across servers.
   */
  async batchControl(params: BatchControlParams, options?: CallOptions): Promise<BatchControlResult> {
    const live = this.liveConnections();
    if (live.length === 1) {
      return this.call("batchControl", params, () => live[0]!, options);
    }
    const groups = new Map<ServerConnection, string[]>();
    const unknown: Array<{ agentId: string; error: RemoteError }> = [];
    await Promise.all(
      params.agentIds.map(async (agentId) => {
        try {
          const owner = await this.ownerOf(agentId, Date.now() + (options?.timeoutMs ?? this.timeoutMs));
          groups.set(owner, [...(groups.get(owner) ?? []), agentId]);
        } catch (error) {
          if (error instanceof RemoteError && error.code === ERROR_CODES.NOT_FOUND)
            unknown.push({ agentId, error });
          else throw error;
        }
      }),
    );
    const byAgent = new Map<string, BatchControlResult["results"][number]>();
    for (const { agentId, error } of unknown) {
      byAgent.set(agentId, {
        agentId,
        ok: false,
        error: { code: error.code, message: error.message, retryable: false },
      });
    }
    await Promise.all(
      [...groups].map(async ([connection, agentIds]) => {
        const result = await this.call("batchControl", { ...params, agentIds }, () => connection, options);
        for (const entry of result.results) byAgent.set(entry.agentId, entry);
      }),
    );
    return { results: params.agentIds.map((agentId) => byAgent.get(agentId)!) };
  }

  async get(agentId: string, options?: CallOptions): Promise<AgentInfo> {
    return this.callAboutAgent("get", agentId, { agentId }, options);
  }

  /** Reads captured output; see OutputParams for offset, tail and limit. */
  async output(params: OutputParams, options?: CallOptions): Promise<OutputResult> {
    return this.callAboutAgent("output", params.agentId, params, options);
  }

  /**
   * One page of agents from every server. With several servers a page holds up to `limit` agents per
   * server and `nextCursor` continues all of them; servers that cannot answer are listed in `unreachable`.
   */
  async list(params: ListParams = {}, options?: CallOptions): Promise<ClusterListResult> {
    const live = this.liveConnections();
    if (live.length === 1) {
      return { ...(await this.call("list", params, () => live[0]!, options)), unreachable: [] };
    }
    const cursors = params.cursor ? decodeClusterCursor(params.cursor) : null;
    const targets = cursors ? live.filter((c) => cursors[c.endpoint]) : live;
    const outcomes = await this.fanOut(
      targets,
      (connection) => ({ ...params, cursor: cursors?.[connection.endpoint] ?? undefined }),
      "list",
      options,
    );
    const answered = outcomes.filter((o) => o.ok);
    if (answered.length === 0 && outcomes.length > 0) throw (outcomes[0] as { error: Error }).error;
    // A registry-backed page already holds every server's agents: merging would list each one N times.
    const clusterWide = answered.find((o) => o.result.scope === "cluster");
    return {
      ...mergeListPages(clusterWide ? [clusterWide] : answered),
      unreachable: outcomes.flatMap((o) => (o.ok ? [] : [{ endpoint: o.endpoint, error: o.error.message }])),
    };
  }

  /** Every agent matching the filters, across all pages and servers. */
  async listAll(params: Omit<ListParams, "cursor"> = {}, options?: CallOptions): Promise<ClusterListResult> {
    const agents: AgentInfo[] = [];
    const unreachable = new Map<string, string>();
    let cursor: string | undefined;
    let total = 0;
    do {
      const page = await this.list({ ...params, cursor }, options);
      agents.push(...page.agents);
      if (cursor === undefined) total = page.total;
      for (const u of page.unreachable) unreachable.set(u.endpoint, u.error);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return {
      agents,
      total,
      nextCursor: null,
      unreachable: [...unreachable].map(([endpoint, error]) => ({ endpoint, error })),
    };
  }

  /** Polls until the agent reaches one of `statuses` (default: any terminal status). */
  async waitFor(
    agentId: string,
    options: { statuses?: readonly AgentStatus[]; timeoutMs?: number; pollMs?: number } = {},
  ): Promise<AgentInfo> {
    const wanted = new Set<AgentStatus>(options.statuses ?? [...TERMINAL_STATUSES]);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const agent = await this.get(agentId, { timeoutMs: Math.max(1, deadline - Date.now()) });
      if (wanted.has(agent.status)) return agent;
      if (Date.now() >= deadline) {
        throw new RequestTimeoutError(
          `agent ${agentId} is still ${agent.status} after ${timeoutMs} ms, not ${[...wanted].join("/")}. Fix: wait longer (--timeout) or stop it.`,
        );
      }
      await sleep(Math.min(options.pollMs ?? 200, Math.max(1, deadline - Date.now())));
    }
  }

  /**
   * Yields an agent's output from `offset` until the agent has ended and everything is read.
   * Reads by offset, so nothing is missed or repeated. Output events (PUB) wake it up, and when one
   * continues exactly where it is, their bytes are yielded without an `output` request: a follower
   * that has caught up reads each byte once over the network. Any gap (events dropped or sent before
   * the subscription took, more than FOLLOW_EVENT_BUFFER_BYTES waiting) is read by offset instead.
   * With `times` every byte is read by offset (events carry no write times). A chunk taken from an
   * event carries `dropped` as of the last read by offset.
   */
  async *follow(
    agentId: string,
    options: {
      stream?: OutputStream;
      offset?: number;
      pollMs?: number;
      signal?: AbortSignal;
      /** Ask for write times (OutputResult.times). */
      times?: boolean;
    } = {},
  ): AsyncGenerator<OutputResult> {
    const stream = options.stream ?? "stdout";
    let offset = options.offset ?? 0;
    let dropped = 0;
    const pieces = options.times ? null : new FollowBuffer(FOLLOW_EVENT_BUFFER_BYTES);
    // Read by offset next (rather than wait for events): at the start, on a status change, on a gap,
    // or when the poll timer fired; and after a reply with data (there may be more) until an event
    // continues where it ended (the events have caught up).
    let read = true;
    let behind = false;
    let wake: ((readNext: boolean) => void) | null = null;
    const unsubscribe = this.subscribe({ agentId, kinds: ["output", "status"] }, (event) => {
      if (event.kind === "output") {
        if (event.stream !== stream) return;
        if (!pieces?.push(event)) read = true;
      } else read = true;
      wake?.(false);
    });
    try {
      while (!options.signal?.aborted) {
        for (let piece = pieces?.take(offset) ?? null; piece !== null; piece = pieces!.take(offset)) {
          if (piece === "gap") {
            read = true;
            break;
          }
          const nextOffset = piece.offset + piece.data.byteLength;
          yield { stream, data: piece.data, offset: piece.offset, nextOffset, dropped, eof: false };
          offset = nextOffset;
          behind = false;
          if (options.signal?.aborted) return;
        }
        if (read || behind) {
          read = false;
          behind = false;
          const chunk = await this.output({ agentId, stream, offset, times: options.times });
          dropped = chunk.dropped;
          if (chunk.data.byteLength > 0 || chunk.offset > offset) yield chunk;
          offset = chunk.nextOffset;
          if (chunk.eof) return;
          if (chunk.data.byteLength > 0) {
            behind = true;
            continue;
          }
        }
        // Events that came in while the reply was on its way; a gap waits for the next wake-up.
        if (pieces?.continuesAt(offset)) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => done(true), options.pollMs ?? 500);
          const onAbort = () => done(false);
          wake = done;
          options.signal?.addEventListener("abort", onAbort, { once: true });
          function done(readNext: boolean): void {
            clearTimeout(timer);
            options.signal?.removeEventListener("abort", onAbort);
            if (readNext) read = true;
            resolve();
          }
        });
        wake = null;
      }
    } finally {
      unsubscribe();
    }
  }

  // ---- Servers ------------------------------------------------------------------------------

  /** Health of one server: the given endpoint, or the first that answers. */
  async health(options?: CallOptions & { endpoint?: string }): Promise<HealthResult> {
    return this.callOnAnyServer("health", options);
  }

  /** Health of every server; a server that cannot answer is reported with its error. */
  async clusterHealth(options?: CallOptions): Promise<Array<ServerOutcome<HealthResult>>> {
    return this.fanOut(this.liveConnections(), () => ({}), "health", options);
  }

  async stats(options?: CallOptions & { endpoint?: string }): Promise<StatsResult> {
    return this.callOnAnyServer("stats", options);
  }

  async clusterStats(options?: CallOptions): Promise<Array<ServerOutcome<StatsResult>>> {
    return this.fanOut(this.liveConnections(), () => ({}), "stats", options);
  }

  /** The servers this client talks to, with what it knows about each. */
  servers(): ServerView[] {
    return this.liveConnections().map((c) => ({
      endpoint: c.endpoint,
      publishEndpoint: c.publishEndpoint,
      serverId: c.serverId,
      connected: c.connected,
      downForMs: c.downForMs,
      breaker: c.breaker.state,
      load: this.cluster.loadOf(c),
    }));
  }

  /** Waits until at least `count` servers (default all) have a completed connection. */
  async waitForServers(options: { count?: number; timeoutMs?: number } = {}): Promise<void> {
    const count = options.count ?? this.liveConnections().length;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    while (this.liveConnections().filter((c) => c.connected).length < count) {
      if (Date.now() >= deadline) {
        throw new UnreachableError(
          `only ${this.liveConnections().filter((c) => c.connected).length} of ${count} servers connected within ${timeoutMs} ms. Fix: check the servers and endpoints.`,
        );
      }
      await sleep(20);
    }
  }

  /** Streams agent status changes and output; resubscribes by itself after reconnects. Returns an unsubscribe function. */
  subscribe(options: SubscribeOptions, listener: StreamListener): () => void {
    if (this.closed) throw new ClientClosedError();
    if (!this.stream) {
      this.stream = new EventStream({ socket: this.options.socket, curve: this.options.curve ?? null });
      for (const connection of this.liveConnections()) this.stream.addEndpoint(connection.publishEndpoint);
    }
    return this.stream.subscribe(options, listener);
  }

  /** Closes every socket and timer. Calls still waiting fail with ClientClosedError. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.cluster.close();
    this.stream?.close();
  }

  // ---- Calls and routing --------------------------------------------------------------------

  /** Runs one call with retries: timeouts and retryable errors are retried until the deadline. */
  private async call<M extends Method>(
    method: M,
    params: MethodParams[M],
    route: Route,
    options?: CallOptions,
  ): Promise<MethodResults[M]> {
    const timeoutMs = positive("timeoutMs", options?.timeoutMs, this.timeoutMs);
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown = null;
    let lastConnection: ServerConnection | null = null;
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new ClientClosedError();
      let connection: ServerConnection | null = null;
      try {
        connection = await route({ lastError, lastConnection, deadline });
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw lastError ?? this.deadlineError(method, timeoutMs);
        const result = await connection.request(method, params, Math.min(this.attemptTimeoutMs, remaining));
        this.cluster.learn(connection, method, result);
        return result;
      } catch (error) {
        const retryable = error instanceof ZeroplaneClientError && error.retryable;
        if (!retryable || attempt >= this.maxAttempts) throw error;
        lastError = error;
        lastConnection = connection;
        const delay = backoffDelay(attempt, this.options.backoff);
        if (Date.now() + delay >= deadline) throw error;
        await sleep(delay);
      }
    }
  }

  private deadlineError(method: Method, timeoutMs: number): RequestTimeoutError {
    return new RequestTimeoutError(
      `${method} did not complete within ${timeoutMs} ms. Fix: check the servers, or raise the timeout (--timeout).`,
    );
  }

  private async callAboutAgent<M extends "control" | "get" | "output">(
    method: M,
    agentId: string,
    params: MethodParams[M],
    options?: CallOptions,
  ): Promise<MethodResults[M]> {
    const deadline = Date.now() + positive("timeoutMs", options?.timeoutMs, this.timeoutMs);
    const owner = await this.ownerOf(agentId, deadline);
    return this.call(method, params, () => owner, { timeoutMs: Math.max(1, deadline - Date.now()) });
  }

  /** The server that owns an agent: remembered from earlier replies, or found by asking every server. */
  private async ownerOf(agentId: string, deadline: number): Promise<ServerConnection> {
    const live = this.liveConnections();
    if (live.length === 1) return live[0]!;
    const known = this.cluster.knownOwner(agentId);
    if (known) return known;
    const timeoutMs = Math.max(1, deadline - Date.now());
    const outcomes = await this.fanOut(live, () => ({ agentId }), "get", { timeoutMs });
    const found = outcomes.find((o) => o.ok);
    if (found) return this.cluster.byEndpoint(found.endpoint)!;
    const failures = outcomes.filter((o): o is Extract<typeof o, { ok: false }> => !o.ok);
    const other = failures.find(
      (o) => !(o.error instanceof RemoteError && o.error.code === ERROR_CODES.NOT_FOUND),
    );
    if (other) {
      throw other.error instanceof ZeroplaneClientError
        ? other.error
        : new UnreachableError(other.error.message, other.endpoint);
    }
    throw new RemoteError({
      code: ERROR_CODES.NOT_FOUND,
      message: `no agent ${agentId} on any of the ${live.length} servers. Fix: check the id with \`zeroplane list\`; finished agents are forgotten after the retention period.`,
      retryable: false,
    });
  }

  private async callOnAnyServer<M extends "health" | "stats">(
    method: M,
    options?: CallOptions & { endpoint?: string },
  ): Promise<MethodResults[M]> {
    if (options?.endpoint) {
      const connection = this.liveConnections().find((c) => c.endpoint === options.endpoint);
      if (!connection) {
        throw new ClientUsageError(
          `${options.endpoint} is not one of this client's servers (${this.liveConnections()
            .map((c) => c.endpoint)
            .join(", ")}).`,
        );
      }
      return this.call(method, {} as MethodParams[M], () => connection, options);
    }
    return this.call(method, {} as MethodParams[M], this.cluster.anyServer, options);
  }

  /** Sends one call to each of `targets` (with retries each) and reports every outcome. */
  private async fanOut<M extends Method>(
    targets: readonly ServerConnection[],
    paramsFor: (connection: ServerConnection) => MethodParams[M],
    method: M,
    options?: CallOptions,
  ): Promise<Array<ServerOutcome<MethodResults[M]>>> {
    return Promise.all(
      targets.map(async (connection): Promise<ServerOutcome<MethodResults[M]>> => {
        try {
          const result = await this.callFailFast(connection, method, paramsFor(connection), options);
          return { endpoint: connection.endpoint, serverId: connection.serverId, ok: true, result };
        } catch (error) {
          return {
            endpoint: connection.endpoint,
            serverId: connection.serverId,
            ok: false,
            error: error as Error,
          };
        }
      }),
    );
  }

  /** Like call(), but a server known to be down fails at once: a fan-out should not wait for it. */
  private async callFailFast<M extends Method>(
    connection: ServerConnection,
    method: M,
    params: MethodParams[M],
    options?: CallOptions,
  ): Promise<MethodResults[M]> {
    if (connection.down) {
      const result = await connection.request(method, params, this.attemptTimeoutMs, {
        failFastWhenDown: true,
      });
      this.cluster.learn(connection, method, result);
      return result;
    }
    return this.call(method, params, () => connection, options);
  }

  // ---- Background upkeep --------------------------------------------------------------------

  private liveConnections(): ServerConnection[] {
    return this.cluster.live();
  }

  private every(ms: number, task: () => void): void {
    const timer = setInterval(task, ms);
    timer.unref();
    this.timers.push(timer);
  }

  /** Health of every server, for placement by load; also the circuit breakers' half-open probe. */
  private refreshHealth(): void {
    this.cluster.refreshHealth(Math.min(this.attemptTimeoutMs, 5_000));
  }

  /** Re-resolves dns:// endpoints: new addresses get connections, vanished ones retire when idle. */
  private async refreshEndpoints(): Promise<void> {
    let addresses: ServerAddress[];
    try {
      addresses = await resolveEndpoints(this.specs, {
        publishEndpoints: this.options.publishEndpoints,
        resolver: this.options.resolver,
      });
    } catch {
      return; // Keep the servers we have while DNS is failing.
    }
    if (this.closed) return;
    this.cluster.update(addresses);
  }
}
