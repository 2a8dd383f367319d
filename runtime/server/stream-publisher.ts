/**
 * The PUB socket: agent status changes and output, as [topic, MessagePack StreamEvent].
 * Topics come from STREAM_TOPICS, so subscribers can filter by prefix ("status.", "output.<id>").
 */
import type { Publisher } from "zeromq";
import type { Logger } from "pino";
import type { ServerMetrics } from "../observability/metrics.js";
import { STREAM_TOPICS, type StreamEvent } from "../protocol/index.js";
import { SendQueue } from "./send-queue.js";
import { encodeStreamEvent } from "../protocol/codec.js";

export class StreamPublisher {
  private queue: SendQueue;

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
    const topic =
      event.kind === "status" ? STREAM_TOPICS.status(event.agent.id) : STREAM_TOPICS.output(event.agentId);
    this.queue.push([topic, encodeStreamEvent(event)]);
  }

  drained(): Promise<void> {
    return this.queue.drained();
  }

  /** Closes the socket in service, which ends every subscriber's connection. */
  async closeSocket(): Promise<void> {
    this.socket.close();
    await Promise.resolve();
  }

  /** Puts a freshly bound socket in service after closeSocket(). */
  attach(socket: Publisher): void {
    this.socket = socket;
    this.queue = this.queueFor(socket);
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
