/**
 * A minimal DEALER client speaking the wire protocol directly, so server tests do not depend on
 * the client SDK. Many requests can be in flight; replies are matched by id.
 */
import { decode, encode } from "@msgpack/msgpack";
import { Dealer, Subscriber } from "zeromq";
import {
  PROTOCOL_VERSION,
  type Method,
  type MethodParams,
  type MethodResults,
  type ProtocolErrorBody,
} from "../../../runtime/protocol/index.js";

export interface CurveClientKeys {
  readonly serverPublicKey: string;
  readonly publicKey: string;
  readonly secretKey: string;
}

export class WireError extends Error {
  constructor(readonly body: ProtocolErrorBody) {
    super(`${body.code}: ${body.message}`);
  }
}

export interface Reply {
  readonly v: number;
  readonly id: string;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: ProtocolErrorBody;
}

export class WireClient {
  readonly socket: Dealer;
  private nextId = 0;
  private readonly pending = new Map<string, (reply: Reply) => void>();
  /** Replies whose id matched no pending request (for example error replies with id ""). */
  readonly unmatched: Reply[] = [];
  private readonly loop: Promise<void>;
  /** The waiter of exchange(), which takes the next unmatched reply. */
  private nextUnmatched: ((reply: Reply) => void) | null = null;
  /** zeromq.js allows one send at a time, and a DEALER without a usable peer blocks: chain sends. */
  private sending: Promise<void> = Promise.resolve();

  constructor(endpoint: string, curve?: CurveClientKeys) {
    this.socket = new Dealer({
      linger: 0,
      receiveHighWaterMark: 0,
      sendHighWaterMark: 0,
      ...(curve
        ? {
            curveServerKey: curve.serverPublicKey,
            curvePublicKey: curve.publicKey,
            curveSecretKey: curve.secretKey,
          }
        : {}),
    });
    this.socket.connect(endpoint);
    this.loop = this.receive();
  }

  private async receive(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        const reply = decode(frames[frames.length - 1]!) as Reply;
        const resolve = this.pending.get(reply.id);
        if (resolve) {
          this.pending.delete(reply.id);
          resolve(reply);
        } else if (this.nextUnmatched) {
          const take = this.nextUnmatched;
          this.nextUnmatched = null;
          take(reply);
        } else {
          this.unmatched.push(reply);
        }
      }
    } catch {
      // Socket closed.
    }
  }

  /**
   * Sends raw frames and waits for the next reply that matches no pending request (lockstep: one
   * exchange at a time), or null if none arrives within timeoutMs.
   */
  async exchange(frames: Array<Uint8Array | string>, timeoutMs = 10_000): Promise<Reply | null> {
    if (this.nextUnmatched) throw new Error("one exchange at a time");
    let timer: NodeJS.Timeout | undefined;
    const reply = new Promise<Reply | null>((resolve) => {
      this.nextUnmatched = resolve;
      timer = setTimeout(() => {
        this.nextUnmatched = null;
        resolve(null);
      }, timeoutMs);
    });
    await this.socket.send(frames);
    const result = await reply;
    clearTimeout(timer);
    return result;
  }

  /** Sends raw frames (for malformed-input tests). */
  async sendRaw(frames: Array<Uint8Array | string>): Promise<void> {
    await this.socket.send(frames);
  }

  /** Sends an envelope and waits for its reply (or throws after timeoutMs). */
  async call(
    method: string,
    params: unknown = {},
    timeoutMs = 10_000,
    extra: Record<string, unknown> = {},
  ): Promise<Reply> {
    const id = `r${++this.nextId}`;
    const reply = new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no reply to ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
    const frame = encode({ v: PROTOCOL_VERSION, id, method, params, ...extra });
    this.sending = this.sending.then(
      () => this.socket.send(frame),
      () => undefined,
    );
    this.sending.catch(() => undefined);
    return reply;
  }

  /** Calls a method and returns its result, throwing WireError on an error reply. */
  async request<M extends Method>(
    method: M,
    params: MethodParams[M],
    timeoutMs?: number,
  ): Promise<MethodResults[M]> {
    const reply = await this.call(method, params, timeoutMs);
    if (!reply.ok) throw new WireError(reply.error!);
    return reply.result as MethodResults[M];
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.loop;
  }
}

/** A SUB socket collecting [topic, event] pairs from the server's PUB stream. */
export class StreamCollector {
  readonly socket: Subscriber;
  readonly events: Array<{ topic: string; event: Record<string, unknown> }> = [];
  private readonly loop: Promise<void>;

  constructor(endpoint: string, topics: string[] = [""], curve?: CurveClientKeys) {
    this.socket = new Subscriber({
      linger: 0,
      ...(curve
        ? {
            curveServerKey: curve.serverPublicKey,
            curvePublicKey: curve.publicKey,
            curveSecretKey: curve.secretKey,
          }
        : {}),
    });
    for (const topic of topics) this.socket.subscribe(topic);
    this.socket.connect(endpoint);
    this.loop = this.receive();
  }

  private async receive(): Promise<void> {
    try {
      for await (const [topic, body] of this.socket) {
        this.events.push({ topic: topic!.toString(), event: decode(body!) as Record<string, unknown> });
      }
    } catch {
      // Socket closed.
    }
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.loop;
  }
}
