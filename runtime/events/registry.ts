/**
 * The cluster registry in JetStream KV (docs/events.md, "Cluster registry"): three buckets named by
 * `registryBuckets(nats.registryPrefix)`.
 *
 * - `<prefix>_AGENTS`: one record per agent (its last AgentInfo and owner instance), written by the
 *   publisher through the spool on every lifecycle event; this module only reads it (a watcher keeps a
 *   bounded copy for `list`, `get` reads the bucket directly).
 * - `<prefix>_KEYS`: spawn idempotency keys, created if absent, living `server.idempotencyWindowMs`.
 * - `<prefix>_SERVERS`: a heartbeat per server naming its current instance, living
 *   HEARTBEAT_MISSES heartbeat intervals. A server heartbeats only once the records its previous run
 *   left in the spool are published, so "no record while a newer instance heartbeats" proves the
 *   agent never started.
 *
 * Replicas, storage and byte limits come from the events stream's settings (nats.replicas,
 * nats.storage, and shares of nats.maxBytes: REGISTRY_BYTES_SHARE); agent records live nats.maxAgeMs.
 */
import { decode, encode } from "@msgpack/msgpack";
import type { Logger } from "pino";
import {
  StorageType,
  type KV,
  type KvEntry,
  type KvOptions,
  type NatsConnection,
  type NatsError,
} from "nats";
import {
  HEARTBEAT_MISSES,
  REGISTRY_BYTES_SHARE,
  registryBuckets,
  type ZeroplaneConfig,
} from "../config/index.js";
import {
  ERROR_CODES,
  PROTOCOL_VERSION,
  ProtocolError,
  type ErrorCode,
  type Method,
  type MethodResults,
} from "../protocol/index.js";
import {
  encodeJson,
  registryKey,
  type AgentRecordValue,
  type Heartbeat,
  type KeyClaim,
} from "./registry-keys.js";
import { redactUrl } from "./link.js";
import { RecordCache } from "./record-cache.js";
import { subjectToken } from "./subjects.js";

/** JetStream's "wrong last sequence": a create or compare-and-swap lost the race. */
const WRONG_LAST_SEQUENCE = 10071;
const KV_TIMEOUT_MS = 5_000;

export interface ClusterRegistryOptions {
  readonly config: ZeroplaneConfig;
  readonly instance: string;
  readonly logger: Logger;
  /** True once the spool holds nothing from a previous run: heartbeats wait for it. */
  readonly caughtUp: () => boolean;
  /** Counts claim outcomes (won, replay, takeover, conflict). */
  readonly claims: { inc(labels: { outcome: string }): void };
}

export type ClaimResult =
  | { readonly won: true; readonly revision: number }
  | { readonly won: false; readonly claim: KeyClaim; readonly revision: number };

interface CachedHeartbeat {
  readonly instance: string;
  /** When JetStream stored it (ms since the epoch). */
  readonly created: number;
}

export class ClusterRegistry {
  readonly buckets: ReturnType<typeof registryBuckets>;
  readonly heartbeatTtlMs: number;
  private agents: KV | null = null;
  private keys: KV | null = null;
  private servers: KV | null = null;
  private connection: NatsConnection | null = null;
  private connected = false;
  private watching = false;
  private beating = false;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly records = new RecordCache();
  private readonly heartbeats = new Map<string, CachedHeartbeat>();
  private readonly stops: Array<() => void> = [];

  constructor(private readonly options: ClusterRegistryOptions) {
    this.buckets = registryBuckets(options.config.nats.registryPrefix);
    this.heartbeatTtlMs = HEARTBEAT_MISSES * options.config.nats.heartbeatIntervalMs;
  }

  get serverId(): string {
    return this.options.config.server.id;
  }

  get instance(): string {
    return this.options.instance;
  }

  /** Connected, with the buckets created or bound. */
  usable(): boolean {
    return this.connected && this.agents !== null && !this.closed;
  }

  /** Usable and heartbeating: other servers see this one's agents as alive. */
  heartbeating(): boolean {
    return this.usable() && this.beating;
  }

  /** Why the registry cannot answer now, naming NATS. */
  unavailableReason(): string {
    const urls = this.options.config.nats.urls.map(redactUrl).join(", ");
    return `the cluster registry (JetStream KV bucket ${this.buckets.keys} on NATS ${urls}) is not reachable`;
  }

  /** Creates or binds the buckets; called by the link after every (re)connect, before it is usable. */
  async prepare(connection: NatsConnection): Promise<void> {
    const js = connection.jetstream({ timeout: KV_TIMEOUT_MS });
    const { nats, server } = this.options.config;
    const common: Partial<KvOptions> = {
      replicas: nats.replicas,
      storage: nats.storage === "memory" ? StorageType.Memory : StorageType.File,
      history: 1,
      timeout: KV_TIMEOUT_MS,
    };
    // Shares of the stream's limit (REGISTRY_BYTES_SHARE), so JetStream's store holds all three.
    const limit = (share: number) =>
      nats.maxBytes > 0 ? { max_bytes: Math.max(1024 * 1024, Math.floor(nats.maxBytes * share)) } : {};
    this.agents = await js.views.kv(this.buckets.agents, {
      ...common,
      ...limit(REGISTRY_BYTES_SHARE.agents),
      ttl: nats.maxAgeMs,
    });
    this.keys = await js.views.kv(this.buckets.keys, {
      ...common,
      ...limit(REGISTRY_BYTES_SHARE.keys),
      ttl: server.idempotencyWindowMs,
    });
    this.servers = await js.views.kv(this.buckets.servers, { ...common, ttl: this.heartbeatTtlMs });
    this.connection = connection;
    if (!this.watching) {
      this.watching = true;
      void this.watch(this.agents, (entry) => this.onRecord(entry));
      void this.watch(this.servers, (entry) => this.onHeartbeat(entry));
      this.scheduleHeartbeat(0);
    }
  }

  /** The link's state: usable (connected, stream and buckets ready) or not. */
  setConnected(connected: boolean): void {
    this.connected = connected;
  }

  /** Claims an idempotency key if absent; otherwise returns the claim already there. */
  async claim(name: string, claim: KeyClaim): Promise<ClaimResult> {
    const keys = this.require(this.keys);
    try {
      const revision = await keys.create(name, encodeJson(claim));
      this.options.claims.inc({ outcome: "won" });
      return { won: true, revision };
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
    const entry = await keys.get(name);
    if (!entry || entry.operation !== "PUT") return this.claim(name, claim); // Deleted meanwhile.
    return { won: false, claim: entry.json<KeyClaim>(), revision: entry.revision };
  }

  /** Replaces a claim whose owner died before starting its agent, if nobody changed it since `revision`. */
  /** Returns the new revision, or null when another server changed the claim first. */
  async takeOver(name: string, claim: KeyClaim, revision: number): Promise<number | null> {
    try {
      const next = await this.require(this.keys).update(name, encodeJson(claim), revision);
      this.options.claims.inc({ outcome: "takeover" });
      return next;
    } catch (error) {
      if (isConflict(error)) return null;
      throw error;
    }
  }

  /** Gives a key back after the spawn it claimed failed (CAPACITY, draining), so a retry can succeed. */
  async release(name: string, revision: number): Promise<void> {
    await this.require(this.keys).delete(name, { previousSeq: revision });
  }

  /** An agent's record, read from the bucket (not the cache). */
  async record(agentId: string): Promise<AgentRecordValue | null> {
    const entry = await this.require(this.agents).get(registryKey(agentId));
    return entry && entry.operation === "PUT" ? entry.json<AgentRecordValue>() : null;
  }

  /** A server's heartbeat, read from the bucket: null when it has expired. */
  async heartbeat(serverId: string): Promise<CachedHeartbeat | null> {
    const entry = await this.require(this.servers).get(registryKey(serverId));
    const beat = entry && entry.operation === "PUT" ? toHeartbeat(entry) : null;
    return beat && this.fresh(beat) ? beat : null;
  }

  /** True when `instance` of `serverId` heartbeats (from the watched copy). */
  isLive(serverId: string, instance: string): boolean {
    if (serverId === this.serverId && instance === this.instance) return true;
    const beat = this.heartbeats.get(registryKey(serverId));
    return beat !== undefined && beat.instance === instance && this.fresh(beat);
  }

  /** The watched copy of every record (bounded: record-cache.ts). */
  cachedRecords(): IterableIterator<AgentRecordValue> {
    return this.records.values();
  }

  /**
   * Sends a request to one server's command subject (nats.commands) and returns its result, or throws
   * its error as a ProtocolError.
   */
  async request<M extends Method>(serverId: string, method: M, params: unknown): Promise<MethodResults[M]> {
    const connection = this.connection;
    if (!connection || !this.usable())
      throw new ProtocolError(ERROR_CODES.UNAVAILABLE, this.unavailableReason());
    const { nats, server } = this.options.config;
    const subject = `${nats.commandSubjectPrefix}.${subjectToken(serverId)}.${method}`;
    const body = encode({ v: PROTOCOL_VERSION, id: `route-${Date.now()}`, params });
    let data: Uint8Array;
    try {
      data = (await connection.request(subject, body, { timeout: server.requestTimeoutMs })).data;
    } catch (error) {
      throw new ProtocolError(
        ERROR_CODES.UNAVAILABLE,
        `server ${serverId} owns this agent but did not answer on ${subject} (${(error as Error).message}); retry, or send the request to that server`,
      );
    }
    const reply = decode(data) as {
      ok: boolean;
      result?: unknown;
      error?: { code: ErrorCode; message: string };
    };
    if (reply.ok) return reply.result as MethodResults[M];
    throw new ProtocolError(reply.error?.code ?? ERROR_CODES.INTERNAL, reply.error?.message ?? "no message");
  }

  /** Stops heartbeating and removes this instance's heartbeat, so its agents read lost at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    for (const stop of this.stops) stop();
    const servers = this.servers;
    if (!servers || !this.beating || !this.connected) return;
    await servers.delete(registryKey(this.serverId)).catch(() => undefined);
  }

  private fresh(beat: CachedHeartbeat): boolean {
    return Date.now() - beat.created < this.heartbeatTtlMs;
  }

  private require(kv: KV | null): KV {
    if (!kv || !this.usable()) throw new ProtocolError(ERROR_CODES.UNAVAILABLE, this.unavailableReason());
    return kv;
  }

  private scheduleHeartbeat(delayMs: number): void {
    if (this.closed) return;
    this.heartbeatTimer = setTimeout(() => void this.beat(), delayMs);
    this.heartbeatTimer.unref();
  }

  private async beat(): Promise<void> {
    const interval = this.options.config.nats.heartbeatIntervalMs;
    try {
      if (this.servers && this.connected && this.options.caughtUp()) {
        const beat: Heartbeat = { instance: this.instance, at: Date.now() };
        await this.servers.put(registryKey(this.serverId), encodeJson(beat));
        if (!this.beating)
          this.options.logger.info({ instance: this.instance }, "registry heartbeat started");
        this.beating = true;
      }
    } catch (error) {
      this.options.logger.warn({ err: error }, "registry heartbeat failed; retrying");
    }
    // Before the first beat, check often: a restarted server becomes visible as soon as it may.
    this.scheduleHeartbeat(this.beating ? interval : Math.min(interval, 100));
  }

  private async watch(kv: KV, apply: (entry: KvEntry) => void): Promise<void> {
    while (!this.closed) {
      try {
        const iterator = await kv.watch();
        this.stops.push(() => iterator.stop());
        for await (const entry of iterator) apply(entry);
        return;
      } catch (error) {
        if (this.closed) return;
        this.options.logger.warn({ err: error }, "registry watcher stopped; restarting");
        await new Promise((resolve) => setTimeout(resolve, 1000).unref());
      }
    }
  }

  private onRecord(entry: KvEntry): void {
    if (entry.operation !== "PUT") {
      this.records.delete(entry.key);
      return;
    }
    try {
      this.records.set(entry.key, entry.json<AgentRecordValue>(), entry.value.byteLength);
    } catch (error) {
      this.options.logger.warn({ err: error, key: entry.key }, "unreadable registry record ignored");
    }
  }

  private onHeartbeat(entry: KvEntry): void {
    const beat = entry.operation === "PUT" ? toHeartbeat(entry) : null;
    if (beat) this.heartbeats.set(entry.key, beat);
    else this.heartbeats.delete(entry.key);
  }
}

function toHeartbeat(entry: KvEntry): CachedHeartbeat | null {
  try {
    return { instance: entry.json<Heartbeat>().instance, created: entry.created.getTime() };
  } catch {
    return null;
  }
}

function isConflict(error: unknown): boolean {
  return (error as NatsError | undefined)?.api_error?.err_code === WRONG_LAST_SEQUENCE;
}
