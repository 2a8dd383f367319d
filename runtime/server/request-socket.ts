/**
 * The ROUTER socket's request loop. Each message is [client identity, request frame]. Requests are
 * handled concurrently (a slow spawn never delays a health check) and replies go out through a
 * send queue. Hostile input gets an error reply or is dropped; it never stops the loop.
 */
import type { Logger } from "pino";
import type { Router } from "zeromq";
import type { ServerMetrics } from "../observability/metrics.js";
import { decodeRequest, encodeError, encodeResult } from "../protocol/codec.js";
import { ERROR_CODES, ProtocolError, toProtocolError } from "../protocol/index.js";
import type { Dispatch } from "./handler.js";
import { SendQueue } from "./send-queue.js";

/** Requests in progress beyond which the loop stops reading (ZeroMQ then queues, then pushes back). */
const MAX_IN_FLIGHT = 10_000;

export class RequestSocket {
  private socket: Router;
  private replies: SendQueue;
  private inFlight = 0;
  /** Each in-flight request's reply promise, so a caller can wait for the ones running now. */
  private readonly pending = new Set<Promise<void>>();
  private resumeReading: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(
    socket: Router,
    /** The dispatcher: handler.invoke. */
    private readonly dispatchRequest: Dispatch,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
    private readonly maxMessageBytes: number,
    private readonly sendHighWaterMark: number,
  ) {
    this.socket = socket;
    this.replies = this.queueFor(socket);
  }

  start(): void {
    this.loop = this.receiveLoop(this.socket);
  }

  /** Resolves when every reply queued so far has been handed to ZeroMQ. */
  drained(): Promise<void> {
    return this.replies.drained();
  }

  /**
   * Resolves when every request in flight now has been answered (requests that arrive later are not
   * waited for) and its reply handed to ZeroMQ.
   */
  async settled(): Promise<void> {
    await Promise.all(this.pending);
    await this.replies.drained();
  }

  /**
   * Closes the socket in service, which ends every client connection, and resolves when its receive
   * loop has ended. Replies still unsent are dropped: their clients are gone.
   */
  async closeSocket(): Promise<void> {
    this.socket.close();
    this.wakeReader();
    await this.loop;
  }

  /**
   * Puts a freshly bound socket in service after closeSocket(). Requests in flight from the old
   * socket's clients are answered into it, and it drops them: those clients are no longer connected.
   */
  attach(socket: Router): void {
    this.socket = socket;
    this.replies = this.queueFor(socket);
    this.start();
  }

  private queueFor(socket: Router): SendQueue {
    return new SendQueue(
      socket,
      Math.max(this.sendHighWaterMark, 1_000),
      () => this.metrics.recordMalformed("reply-queue-full"),
      (error) => this.logger.warn({ err: error.message }, "reply send failed"),
    );
  }

  private async receiveLoop(socket: Router): Promise<void> {
    while (!socket.closed) {
      if (this.inFlight >= MAX_IN_FLIGHT) {
        await new Promise<void>((resolve) => (this.resumeReading = resolve));
        continue;
      }
      let frames: Buffer[];
      try {
        frames = await socket.receive();
      } catch (error) {
        if (socket.closed) return;
        this.logger.error({ err: (error as Error).message }, "receive failed");
        continue;
      }
      this.dispatch(frames);
    }
  }

  private wakeReader(): void {
    const resume = this.resumeReading;
    this.resumeReading = null;
    resume?.();
  }

  private dispatch(frames: Buffer[]): void {
    const identity = frames[0];
    if (!identity) return;
    if (frames.length !== 2) {
      this.refuse(
        identity,
        "",
        frames.length < 2 ? "missing-frame" : "extra-frames",
        new ProtocolError(
          ERROR_CODES.BAD_REQUEST,
          `a request is exactly one frame holding a MessagePack envelope; got ${frames.length - 1} frames`,
        ),
      );
      return;
    }
    // The codec checks the size before reading anything, then bounds the structure before decoding.
    const decoded = decodeRequest(frames[1]!, { maxMessageBytes: this.maxMessageBytes });
    if (!decoded.ok) {
      this.refuse(identity, decoded.id, decoded.reason, decoded.error);
      return;
    }
    const { id, method, params } = decoded.request;
    let outcome: unknown;
    try {
      outcome = this.dispatchRequest(method, params);
    } catch (error) {
      this.replyError(identity, id, error);
      return;
    }
    if (!(outcome instanceof Promise)) {
      // Answered synchronously (health, get, list…): reply now, no promise in between.
      this.reply(identity, id, outcome);
      return;
    }
    this.inFlight++;
    const replied = outcome.then(
      (result) => {
        this.reply(identity, id, result);
        this.finished();
      },
      (error: unknown) => {
        this.replyError(identity, id, error);
        this.finished();
      },
    );
    this.pending.add(replied);
    void replied.finally(() => this.pending.delete(replied));
  }

  private reply(identity: Buffer, id: string, result: unknown): void {
    let frame: Uint8Array;
    try {
      frame = encodeResult(id, result);
    } catch (error) {
      this.logger.error({ err: (error as Error).message }, "cannot encode a reply");
      frame = encodeError(id, new ProtocolError(ERROR_CODES.INTERNAL, "cannot encode the reply").toBody());
    }
    this.replies.push([identity, frame]);
  }

  private replyError(identity: Buffer, id: string, error: unknown): void {
    const wire = toProtocolError(error);
    if (wire.code === ERROR_CODES.INTERNAL) {
      const cause = (wire.cause ?? error) as Error;
      this.logger.error({ err: cause?.message, stack: cause?.stack }, "request failed");
    }
    this.replies.push([identity, encodeError(id, wire.toBody())]);
  }

  /** Answers a frame that never reached the handler, and counts it. */
  private refuse(identity: Buffer, id: string, reason: string, error: ProtocolError): void {
    this.metrics.recordMalformed(reason);
    this.metrics.recordRequest("unknown", error.code, 0);
    this.replies.push([identity, encodeError(id, error.toBody())]);
  }

  private finished(): void {
    this.inFlight--;
    if (this.inFlight < MAX_IN_FLIGHT / 2) this.wakeReader();
  }
}
