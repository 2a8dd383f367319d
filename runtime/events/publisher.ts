/**
 * Publishes lifecycle events to JetStream through the spool.
 *
 * Every event is appended to the spool first (write-through), then published in spool order with a
 * window of outstanding publishes; a record is committed (removed) only once JetStream acknowledges it.
 * So the spool is both the outage buffer and the retry queue, and the order is one global FIFO:
 * - on the first failed publish no new publish is sent; once the window settles, the acknowledged prefix
 *   is committed and publishing resumes from the oldest unacknowledged record (after a short backoff, or
 *   when the connection is back). Records acknowledged behind a failure are sent again and JetStream drops
 *   them by Nats-Msg-Id, so nothing is stored twice and the per-agent order holds;
 * - when the spool is full, the oldest records are dropped and counted (both policies: under
 *   refuse-spawns, spawns stop at 90% so the rest is headroom for agents already running, and dropping is
 *   the last resort);
 * - when the spool's disk fails (ENOSPC, EIO) or has less free space than the reserve, spawns are
 *   refused under both policies with a message naming the spool directory; events of agents already
 *   running wait in memory (bounded, see Spool) and are written and published in order once the disk
 *   takes them again.
 */
import type { Logger } from "pino";
import { headers as natsHeaders, type JetStreamClient, type PubAck } from "nats";
import { ENV_VARS, EVENTS_METRIC_NAMES } from "../config/names.js";
import type { LifecycleEvent } from "../protocol/index.js";
import type { EventsMetrics } from "./metrics.js";
import { Spool, SpoolUnavailableError, type SpooledRecord } from "./spool.js";
import { encodeRecordValue, recordSubject } from "./registry-keys.js";
import { eventMessageId, eventSubject } from "./subjects.js";

export type SpoolFullPolicy = "refuse-spawns" | "drop-oldest";

/** Share of the spool at which the refuse-spawns policy stops accepting spawns. */
export const REFUSE_SPAWNS_AT = 0.9;
/** Free bytes the spool's filesystem must keep for events of running agents, or spawns are refused. */
export const DISK_RESERVE_MAX_BYTES = 1024 * 1024;

/** The free-space reserve for a spool of `maxBytes`: the refuse-spawns headroom, at most 1 MiB. */
export function diskReserveBytes(maxBytes: number): number {
  return Math.min(DISK_RESERVE_MAX_BYTES, Math.ceil(maxBytes * (1 - REFUSE_SPAWNS_AT)));
}

export interface PublisherOptions {
  readonly spool: Spool;
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly policy: SpoolFullPolicy;
  readonly logger: Logger;
  readonly metrics: EventsMetrics;
  /** Outstanding publishes at once. @default 256 */
  readonly window?: number;
  /** Time to wait for a publish acknowledgement. @default 5000 */
  readonly ackTimeoutMs?: number;
  /** Longest wait before retrying after a failed publish while connected. @default 2000 */
  readonly maxRetryDelayMs?: number;
  /** When set, every event also writes the agent's record to the cluster registry (registry.ts). */
  readonly records?: RecordWriter;
}

/** Where the publisher writes agent records: a KV bucket, stamped with this server instance. */
export interface RecordWriter {
  readonly bucket: string;
  readonly instance: string;
  /** Counts records the bucket acknowledged. */
  readonly written: { inc(): void };
}

interface InFlight {
  readonly record: SpooledRecord;
  state: "pending" | "ok" | "failed";
  /** An agent record for the registry rather than an event. */
  isRecord?: boolean;
  /** Not sent: a newer record of the same agent was sent instead. */
  skipped?: boolean;
}

/** Indexes of agent records (no message id) followed by a newer record for the same key in `batch`. */
function supersededRecords(batch: readonly SpooledRecord[]): Set<number> {
  const last = new Map<string, number>();
  const superseded = new Set<number>();
  batch.forEach((record, index) => {
    const { subject, messageId } = decodeRecord(record.body);
    if (messageId !== "") return;
    const previous = last.get(subject);
    if (previous !== undefined) superseded.add(previous);
    last.set(subject, index);
  });
  return superseded;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Spool record body: [u16 subject length][subject][u16 msg id length][msg id][JSON payload]. */
export function encodeRecord(subject: string, messageId: string, payload: Uint8Array): Uint8Array {
  const subjectBytes = encoder.encode(subject);
  const idBytes = encoder.encode(messageId);
  const out = Buffer.allocUnsafe(4 + subjectBytes.length + idBytes.length + payload.length);
  out.writeUInt16LE(subjectBytes.length, 0);
  out.set(subjectBytes, 2);
  out.writeUInt16LE(idBytes.length, 2 + subjectBytes.length);
  out.set(idBytes, 4 + subjectBytes.length);
  out.set(payload, 4 + subjectBytes.length + idBytes.length);
  return out;
}

export function decodeRecord(body: Buffer): { subject: string; messageId: string; payload: Uint8Array } {
  const subjectLength = body.readUInt16LE(0);
  const subject = decoder.decode(body.subarray(2, 2 + subjectLength));
  const idLength = body.readUInt16LE(2 + subjectLength);
  const idStart = 4 + subjectLength;
  const messageId = decoder.decode(body.subarray(idStart, idStart + idLength));
  return { subject, messageId, payload: body.subarray(idStart + idLength) };
}

export class EventPublisher {
  private readonly spool: Spool;
  private readonly window: number;
  private readonly ackTimeoutMs: number;
  private readonly maxRetryDelayMs: number;
  private js: JetStreamClient | null = null;
  private inflight: InFlight[] = [];
  private failing = false;
  private retryDelayMs = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private lastDropWarning = 0;
  private lastSpoolErrorLog = 0;
  private pumpScheduled = false;

  constructor(private readonly options: PublisherOptions) {
    this.spool = options.spool;
    this.window = options.window ?? 256;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 2000;
  }

  /** Spools one event and publishes it when it can. Never throws. */
  publish(event: LifecycleEvent): void {
    if (this.closed) {
      this.options.logger.error(
        { agentId: event.agentId, type: event.type, seq: event.seq },
        "lifecycle event after the event service closed; dropped",
      );
      this.options.metrics.spoolDropped.inc();
      return;
    }
    try {
      const subject = eventSubject(this.options.subjectPrefix, event);
      const body = encodeRecord(subject, eventMessageId(event), encoder.encode(JSON.stringify(event)));
      this.makeRoom(Spool.sizeOf(body.byteLength));
      this.spool.append(body);
      const records = this.options.records;
      if (records) {
        // No message id: a KV put is last-writer-wins, so a resend after a newer put must store again.
        const record = encodeRecord(
          recordSubject(records.bucket, event.agentId),
          "",
          encodeRecordValue(event, records.instance),
        );
        this.makeRoom(Spool.sizeOf(record.byteLength));
        this.spool.append(record);
        // The runner announces an agent before forking it: on disk first, so a crash cannot hide a start.
        if (event.type === "spawned") this.spool.flush();
      }
      // Once per event-loop turn: events published together are written and sent together.
      if (!this.pumpScheduled) {
        this.pumpScheduled = true;
        setImmediate(() => {
          this.pumpScheduled = false;
          this.pump();
        });
      }
    } catch (error) {
      this.options.metrics.spoolDropped.inc();
      // A failing disk refuses every event: one log line per 10 s, the metric counts them all.
      const now = Date.now();
      if (!(error instanceof SpoolUnavailableError) || now - this.lastSpoolErrorLog > 10_000) {
        this.lastSpoolErrorLog = now;
        this.options.logger.error(
          { err: error, agentId: event.agentId, type: event.type, seq: event.seq, spoolDir: this.spool.dir },
          "cannot spool lifecycle event; dropped (see zeroplane_events_spool_dropped_total)",
        );
      }
    }
  }

  /** False when spawns must be refused: see spawnRefusal. */
  acceptingSpawns(): boolean {
    return this.spawnRefusal() === null;
  }

  /**
   * Why a spawn must be refused now, naming the spool directory, or null to accept it: the spool's disk
   * fails or is nearly full (both policies), or, under refuse-spawns, the spool is 90% full.
   */
  spawnRefusal(): string | null {
    const disk = this.diskProblem();
    if (disk) return `${disk}; spawns resume once events can be stored`;
    if (this.options.policy !== "refuse-spawns") return null;
    const depth = this.spool.depthBytes();
    const max = this.spool.maxBytes();
    if (depth < max * REFUSE_SPAWNS_AT) return null;
    return (
      `the lifecycle event spool at ${this.spool.dir} is full (${depth} of ${max} bytes) and NATS is unreachable; ` +
      `spawns resume when events can be published; restore NATS or raise ${ENV_VARS["nats.spoolMaxBytes"]}`
    );
  }

  /** Why the spool's disk cannot take events, or null. */
  diskProblem(): string | null {
    const dir = this.spool.dir;
    const failure = this.spool.writeFailure();
    if (failure) {
      return (
        `the lifecycle event spool at ${dir} cannot be written (${failure.code}, since ${new Date(failure.since).toISOString()}); ` +
        `free space on its filesystem or set ${ENV_VARS["nats.spoolDir"]} to a larger volume`
      );
    }
    const free = this.spool.freeDiskBytes();
    const reserve = diskReserveBytes(this.spool.maxBytes());
    if (free !== null && free < reserve) {
      return (
        `the filesystem of the lifecycle event spool at ${dir} has ${free} bytes free, less than the ${reserve}-byte reserve for running agents' events; ` +
        `free space on it or set ${ENV_VARS["nats.spoolDir"]} to a larger volume`
      );
    }
    return null;
  }

  /** Starts publishing on this JetStream client (after connecting and checking the stream). */
  attach(js: JetStreamClient): void {
    this.js = js;
    this.retryDelayMs = 0;
    if (this.retryTimer) {
      // Waiting out a backoff after a failure: the new connection is a better moment to retry.
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.failing = false;
    }
    this.pump();
  }

  /** Stops sending new publishes (disconnected); outstanding ones settle on their own. */
  detach(): void {
    this.js = null;
  }

  /** Resolves when the spool is empty and nothing is outstanding, or after the timeout. True if idle. */
  async whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.isIdle()) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((waiter) => waiter !== done);
        resolve(this.isIdle());
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
    });
  }

  /** Stops publishing. Unacknowledged records stay in the spool for the next start. */
  close(): void {
    this.closed = true;
    this.js = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private isIdle(): boolean {
    return this.spool.depthEvents() === 0 && this.inflight.length === 0;
  }

  private makeRoom(size: number): void {
    if (this.spool.depthBytes() + size <= this.spool.maxBytes()) return;
    const dropped = this.spool.dropOldest(size);
    if (dropped === 0) return;
    this.options.metrics.spoolDropped.inc(dropped);
    const now = Date.now();
    if (now - this.lastDropWarning > 10_000) {
      this.lastDropWarning = now;
      this.options.logger.warn(
        { dropped, policy: this.options.policy, spoolMaxBytes: this.spool.maxBytes() },
        `event spool full: dropping the oldest lifecycle events (see ${EVENTS_METRIC_NAMES.spoolDropped})`,
      );
    }
  }

  private pump(): void {
    while (this.js && !this.failing && !this.closed && this.inflight.length < this.window) {
      const records = this.spool.read(this.window - this.inflight.length);
      if (records.length === 0) break;
      const superseded = this.options.records ? supersededRecords(records) : null;
      for (const [index, record] of records.entries()) {
        // A newer record of the same agent follows in this batch: KV keeps the last, so skip this one.
        if (superseded?.has(index))
          this.inflight.push({ record, state: "ok", isRecord: true, skipped: true });
        else this.send(this.js, record);
      }
    }
    if (this.isIdle()) this.notifyIdle();
  }

  private send(js: JetStreamClient, record: SpooledRecord): void {
    const entry: InFlight = { record, state: "pending" };
    this.inflight.push(entry);
    const { subject, messageId, payload } = decodeRecord(record.body);
    const headers = natsHeaders();
    headers.set("Content-Type", "application/json");
    const isRecord = messageId === "" && this.options.records !== undefined;
    js.publish(subject, payload, {
      ...(isRecord ? {} : { msgID: messageId }),
      timeout: this.ackTimeoutMs,
      headers,
      expect: { streamName: isRecord ? `KV_${this.options.records!.bucket}` : this.options.stream },
    }).then(
      (ack: PubAck) => {
        entry.state = "ok";
        entry.isRecord = isRecord;
        if (ack.duplicate) this.options.metrics.duplicates.inc();
        this.settle();
      },
      (error: unknown) => {
        entry.state = "failed";
        this.options.metrics.publishFailures.inc();
        if (!this.failing) {
          this.options.logger.warn(
            { err: error, subject, messageId },
            "publishing a lifecycle event failed; it stays spooled and is retried in order",
          );
        }
        this.failing = true;
        this.settle();
      },
    );
  }

  private settle(): void {
    while (this.inflight[0]?.state === "ok") {
      const head = this.inflight.shift()!;
      if (!this.spool.commit(head.record)) continue;
      if (head.isRecord) {
        if (!head.skipped) this.options.records?.written.inc();
      } else this.options.metrics.published.inc();
    }
    if (!this.failing) {
      this.retryDelayMs = 0;
      this.pump();
      return;
    }
    if (this.inflight.some((entry) => entry.state === "pending")) return;
    // The window has settled after a failure: resend from the oldest unacknowledged record.
    this.inflight = [];
    this.spool.rewind();
    this.retryDelayMs = Math.min(this.maxRetryDelayMs, Math.max(100, this.retryDelayMs * 2));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.failing = false;
      this.pump();
    }, this.retryDelayMs);
    this.retryTimer.unref();
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
