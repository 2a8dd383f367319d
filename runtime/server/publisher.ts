/**
 * The PUB socket: agent status changes and output, as [topic, MessagePack StreamEvent].
 * Topics come from STREAM_TOPICS, so subscribers can filter by prefix ("status.", "output.<id>").
 */
import type { Publisher } from "zeromq";
import type { Logger } from "pino";
import type { ServerMetrics } from "../observability/metrics.js";
import { STREAM_TOPICS, type StreamEvent } from "../protocol/index.js";
import { SendQueue } from "./send-queue.js";
import { encodeStreamEvent } from "./wire.js";

export class StreamPublisher {
  private readonly queue: SendQueue;

  constructor(
    private readonly socket: Publisher,
    metrics: ServerMetrics,
    logger: Logger,
    highWaterMark: number,
  ) {
    this.queue = new SendQueue(
      socket,
      Math.max(highWaterMark, 1_000),
      () => metrics.recordStreamDrop(),
      (error) => logger.warn({ err: error.message }, "stream publish failed"),
    );
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
}
