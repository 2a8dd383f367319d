/**
 * The PUB socket: agent status changes and output, as [topic, MessagePack StreamEvent].
 * Topics come from STREAM_TOPICS, so subscribers can filter by prefix ("status.", "output.<id>").
 *
 * Output is coalesced: consecutive chunks of one agent's stream that arrive in the same turn of the
 * event loop (a server behind on a fast writer reads many at once) go out as one event, flushed when
 * the turn ends (setImmediate) or at COALESCE_BYTES. Nothing waits on a timer, so an idle stream
 * adds no latency; a busy one sends fewer, larger messages, and CURVE and every hop after it cost
 * less per byte. A status event first flushes the output held before it, so order is kept.
 */
import type { Publisher } from "zeromq";
import type { Logger } from "pino";
import type { ServerMetrics } from "../observability/metrics.js";
import { STREAM_TOPICS, type StreamEvent } from "../protocol/index.js";
import { SendQueue } from "./send-queue.js";
import { encodeOutputEvent, encodeStreamEvent } from "../protocol/codec.js";

/**
 * The largest output event built from coalesced chunks (a single larger chunk goes out as it is; the
 * runner's are at most 64 KiB). Past 256 KiB the figures barely move, and a slow subscriber's queue
 * is at most server.publishHighWaterMark events of this size.
 */
export const COALESCE_BYTES = 256 * 1024;

type OutputEvent = Extract<StreamEvent, { kind: "output" }>;

interface HeldOutput {
  readonly first: OutputEvent;
  readonly parts: Uint8Array[];
  bytes: number;
}

export class StreamPublisher {
  private queue: SendQueue;
  /** Output held until the turn ends, by agent and stream (insertion order is arrival order). */
  private readonly held = new Map<string, HeldOutput>();
  private flushScheduled = false;

  constructor(
    private socket: Publisher,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
    private readonly highWaterMark: number,
  ) {
    this.queue = this.queueFor(socket);
  }

  publish(event: StreamEvent): void {
    if (this.socket.closed) return;
    if (event.kind === "output") return this.hold(event);
    this.flushHeld();
    this.queue.push([STREAM_TOPICS.status(event.agent.id), encodeStreamEvent(event)]);
  }

  drained(): Promise<void> {
    this.flushHeld();
    return this.queue.drained();
  }

  /** Closes the socket in service, which ends every subscriber's connection. */
  async closeSocket(): Promise<void> {
    this.flushHeld();
    this.socket.close();
    await Promise.resolve();
  }

  /** Puts a freshly bound socket in service after closeSocket(). */
  attach(socket: Publisher): void {
    this.socket = socket;
    this.queue = this.queueFor(socket);
  }

  private hold(event: OutputEvent): void {
    const key = `${event.stream}:${event.agentId}`;
    const held = this.held.get(key);
    const size = event.data.byteLength;
    if (held && held.first.offset + held.bytes === event.offset && held.bytes + size <= COALESCE_BYTES) {
      held.parts.push(event.data);
      held.bytes += size;
      return;
    }
    if (held) this.send(key, held);
    this.held.set(key, { first: event, parts: [event.data], bytes: size });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flushHeld();
      });
    }
  }

  private flushHeld(): void {
    for (const [key, held] of this.held) this.send(key, held);
  }

  private send(key: string, held: HeldOutput): void {
    this.held.delete(key);
    if (this.socket.closed) return;
    const { agentId, stream, offset } = held.first;
    const body =
      held.parts.length === 1
        ? encodeStreamEvent(held.first)
        : encodeOutputEvent({ kind: "output", agentId, stream, offset }, held.parts);
    this.queue.push([STREAM_TOPICS.output(agentId), body]);
  }

  private queueFor(socket: Publisher): SendQueue {
    return new SendQueue(
      socket,
      Math.max(this.highWaterMark, 1_000),
      () => this.metrics.recordStreamDrop(),
      (error) => this.logger.warn({ err: error.message }, "stream publish failed"),
    );
  }
}
