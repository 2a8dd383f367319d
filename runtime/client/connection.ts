/**
 * One DEALER socket to one server. Many requests may be in flight; replies are matched by request id.
 * Each request gets exactly one attempt here (retries live in the client), bounded by a timeout.
 *
 * The socket uses ZMQ_IMMEDIATE, so a request is only handed to ZeroMQ once a connection (and its
 * CURVE handshake) is complete. That lets us tell apart "never delivered" (UnreachableError: safe to
 * send elsewhere) from "delivered, no reply" (RequestTimeoutError: the server may have acted on it).
 */
import { randomUUID } from "node:crypto";
import { decode, encode } from "@msgpack/msgpack";
import { Dealer } from "zeromq";
import {
  PROTOCOL_VERSION,
  type Method,
  type MethodParams,
  type MethodResults,
  type ProtocolErrorBody,
} from "../protocol/index.js";
import { CLIENT_ENV_VARS } from "../config/index.js";
import { keyFingerprint } from "../security/keys.js";
import { CircuitBreaker, type BreakerOptions } from "./breaker.js";
import type { CurveClientKeys } from "./curve.js";
import type { ServerAddress } from "./endpoints.js";
import {
  AuthenticationError,
  ClientClosedError,
  RemoteError,
  RequestTimeoutError,
  UnreachableError,
} from "./errors.js";
import { zmqSocketOptions, type ClientSocketOptions } from "./socket-options.js";

export interface ConnectionOptions {
  readonly socket?: ClientSocketOptions;
  readonly curve: CurveClientKeys | null;
  readonly breaker?: BreakerOptions;
  /** A request not delivered within this long fails as unreachable (if its timeout is not sooner). @default 5000 */
  readonly connectTimeoutMs?: number;
}

interface Pending {
  readonly id: string;
  readonly method: Method;
  readonly frame: Uint8Array;
  readonly timeoutMs: number;
  readonly deliverBy: number;
  readonly replyBy: number;
  /** Session number when ZeroMQ took the frame; null until then. */
  sentInSession: number | null;
  /** True while ZeroMQ is trying to deliver it: only the send's own outcome may settle it then. */
  inSocket: boolean;
  timer: NodeJS.Timeout | null;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** What a reply frame holds. */
type Reply =
  | { v: number; id: string; ok: true; result: unknown }
  | { v: number; id: string; ok: false; error: ProtocolErrorBody };

export class ServerConnection {
  readonly endpoint: string;
  readonly publishEndpoint: string;
  readonly breaker: CircuitBreaker;
  /** The server's id, once learned from a reply. */
  serverId: string | null = null;
  private readonly socket: Dealer;
  private readonly connectTimeoutMs: number;
  private readonly curve: CurveClientKeys | null;
  private readonly pending = new Map<string, Pending>();
  private sendQueue: Pending[] = [];
  private sending = false;
  private closed = false;
  /** Incremented on every completed handshake: a new session with (possibly) a new server process. */
  private session = 0;
  private connectedNow = false;
  private authFailure: string | null = null;
  private handshakeFailures = 0;
  private refusedSinceHandshake = false;
  /** When the connection was first refused or lost with no handshake since; null while not down. */
  private downSince: number | null = null;

  constructor(address: ServerAddress, options: ConnectionOptions) {
    this.endpoint = address.endpoint;
    this.publishEndpoint = address.publishEndpoint;
    this.breaker = new CircuitBreaker(options.breaker);
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.curve = options.curve;
    this.socket = new Dealer({ ...zmqSocketOptions(options.socket ?? {}, options.curve), immediate: true });
    void this.watchEvents();
    void this.receiveReplies();
    this.socket.connect(this.endpoint);
  }

  /**
   * True when the last connection attempt was refused or the connection dropped, with no handshake
   * since: the server is probably down (ZeroMQ keeps retrying in the background).
   */
  get down(): boolean {
    // A failed handshake is not "down": the next attempt tells a key problem from a blip.
    return !this.connectedNow && this.refusedSinceHandshake && this.handshakeFailures === 0;
  }

  /**
   * How long the server has been refusing connections (or gone) with no handshake since, in ms;
   * 0 while it is not down. Lets a one-shot caller give up on a server that is not running.
   */
  get downForMs(): number {
    return this.down && this.downSince !== null ? Date.now() - this.downSince : 0;
  }

  /** True while a connection with a completed handshake is up. */
  get connected(): boolean {
    return this.connectedNow;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Requests waiting for a reply or for delivery. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Sends one request and waits for its reply, at most `timeoutMs`. One attempt, no retry.
   * With `failFastWhenDown`, a server that is known to be down fails at once instead of being waited for.
   */
  request<M extends Method>(
    method: M,
    params: MethodParams[M],
    timeoutMs: number,
    options: { failFastWhenDown?: boolean } = {},
  ): Promise<MethodResults[M]> {
    if (this.closed) return Promise.reject(new ClientClosedError());
    if (this.authFailure && !this.connectedNow) return Promise.reject(this.authError());
    if (options.failFastWhenDown && this.down) {
      return Promise.reject(
        new UnreachableError(
          `cannot reach ${this.endpoint}: the connection is refused or was lost. Fix: check that the server is running and the endpoint is right.`,
          this.endpoint,
        ),
      );
    }
    if (!this.breaker.tryAcquire()) {
      return Promise.reject(
        new UnreachableError(
          `${this.endpoint} is failing (circuit open after repeated timeouts); next probe in ${this.breaker.msUntilProbe()} ms. Fix: check that the server is running and reachable, or use another endpoint.`,
          this.endpoint,
        ),
      );
    }
    const id = randomUUID();
    const frame = encode({ v: PROTOCOL_VERSION, id, method, params }, { ignoreUndefined: true });
    const now = Date.now();
    return new Promise<MethodResults[M]>((resolve, reject) => {
      const entry: Pending = {
        id,
        method,
        frame,
        timeoutMs,
        deliverBy: now + Math.min(timeoutMs, this.connectTimeoutMs),
        replyBy: now + timeoutMs,
        sentInSession: null,
        inSocket: false,
        timer: null,
        resolve: resolve as (value: unknown) => void,
        reject,
      };
      entry.timer = setTimeout(() => this.expire(entry), entry.deliverBy - now);
      this.pending.set(id, entry);
      this.sendQueue.push(entry);
      void this.drainSendQueue();
    });
  }

  /** Closes the socket; requests still waiting fail with ClientClosedError. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const entry of this.pending.values()) this.settle(entry, new ClientClosedError(), false);
    this.socket.close();
  }

  private authError(): AuthenticationError {
    // Fingerprints, not keys: the server logs its own (serverKeyFingerprint) at startup, and ZAP
    // logs refused clients by theirs, so both sides can be compared without showing a key.
    const compare = this.curve
      ? `: check the server public key (--server-key-file / ${CLIENT_ENV_VARS.serverPublicKeyFile}): its fingerprint here is ${keyFingerprint(this.curve.serverPublicKey)}, compare it with the serverKeyFingerprint the server logs at startup; and check that your client key (fingerprint ${keyFingerprint(this.curve.publicKey)}) is allowlisted on the server`
      : ": check the server public key and that your client key is allowlisted on the server; this client is not using CURVE, but the server may require it (give --server-key-file and --client-key-file)";
    return new AuthenticationError(
      `CURVE authentication failed with ${this.endpoint} (${this.authFailure})${compare}.`,
      this.endpoint,
    );
  }

  /** zeromq allows one send at a time per socket, so requests are handed over in order. */
  private async drainSendQueue(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.sendQueue.length > 0 && !this.closed) {
        const entry = this.sendQueue.shift()!;
        if (!this.pending.has(entry.id)) continue;
        const wait = entry.deliverBy - Date.now();
        if (wait <= 0) continue;
        this.socket.sendTimeout = wait;
        entry.inSocket = true;
        try {
          await this.socket.send(entry.frame);
        } catch {
          // Not delivered in time (EAGAIN) or socket closed: expire() reports it with the right error.
          entry.inSocket = false;
          this.expire(entry);
          continue;
        }
        entry.inSocket = false;
        if (!this.pending.has(entry.id)) continue;
        entry.sentInSession = this.session;
        clearTimeout(entry.timer!);
        entry.timer = setTimeout(() => this.expire(entry), Math.max(0, entry.replyBy - Date.now()));
      }
    } finally {
      this.sending = false;
    }
  }

  private expire(entry: Pending): void {
    if (!this.pending.has(entry.id) || entry.inSocket) return;
    if (entry.sentInSession === null) {
      if (this.authFailure) return this.settle(entry, this.authError(), false);
      const waited = Math.min(entry.timeoutMs, this.connectTimeoutMs);
      return this.settle(
        entry,
        new UnreachableError(
          `cannot reach ${this.endpoint}: no connection within ${waited} ms. Fix: check that the server is running, the endpoint is right and the port is open.`,
          this.endpoint,
        ),
        true,
      );
    }
    const lost = entry.sentInSession !== this.session || !this.connectedNow;
    const what = lost
      ? `the connection to ${this.endpoint} was lost before it replied to ${entry.method}`
      : `no reply from ${this.endpoint} to ${entry.method} within ${entry.timeoutMs} ms`;
    const error = new RequestTimeoutError(
      `${what}: the server is stalled, overloaded or down, and may or may not have applied the request. Fix: check the server, or raise the timeout (--timeout).`,
      this.endpoint,
      lost,
    );
    this.settle(entry, error, true);
  }

  private settle(entry: Pending, outcome: Error | { result: unknown }, countsAsFailure: boolean): void {
    if (!this.pending.delete(entry.id)) return;
    if (entry.timer) clearTimeout(entry.timer);
    if (outcome instanceof Error) {
      if (countsAsFailure) this.breaker.failure();
      else this.breaker.release();
      entry.reject(outcome);
    } else {
      this.breaker.success();
      entry.resolve(outcome.result);
    }
  }

  /** A dropped connection takes its unanswered requests with it: no reply can arrive on a new session. */
  private failRequestsOfLostSession(): void {
    for (const entry of [...this.pending.values()]) {
      if (entry.sentInSession === this.session) {
        entry.sentInSession = -1;
        this.expire(entry);
      }
    }
  }

  private async receiveReplies(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        const reply = decodeReply(frames[frames.length - 1]!);
        if (!reply) continue;
        const entry = this.pending.get(reply.id);
        if (!entry) continue; // A late reply to an attempt that already timed out.
        if (reply.ok) this.settle(entry, { result: reply.result }, false);
        else {
          // The server answered: it is alive, whatever the error.
          this.breaker.success();
          this.settle(entry, new RemoteError(reply.error, this.endpoint), false);
        }
      }
    } catch (error) {
      if (!this.closed) {
        for (const entry of this.pending.values()) this.settle(entry, error as Error, true);
      }
    }
  }

  private async watchEvents(): Promise<void> {
    try {
      for await (const event of this.socket.events) {
        switch (event.type) {
          case "handshake":
            this.session += 1;
            this.connectedNow = true;
            this.authFailure = null;
            this.handshakeFailures = 0;
            this.refusedSinceHandshake = false;
            this.downSince = null;
            break;
          case "connect:retry":
            this.refusedSinceHandshake = true;
            this.downSince ??= Date.now();
            break;
          case "disconnect":
          case "close":
            this.connectedNow = false;
            this.refusedSinceHandshake = true;
            this.downSince ??= Date.now();
            this.failRequestsOfLostSession();
            break;
          case "handshake:error:auth":
          case "handshake:error:protocol":
          case "handshake:error:other":
            this.connectedNow = false;
            this.handshakeFailures += 1;
            // An unexplained failure ("other", such as a broken pipe) can be a server dying mid-handshake,
            // so it takes a repeat. A ZAP refusal (auth) or a mechanism mismatch (protocol, after which
            // ZeroMQ does not reconnect) is a key problem at once.
            if (event.type !== "handshake:error:other" || this.handshakeFailures >= 2) {
              this.authFailure = `${event.type.slice("handshake:error:".length)} error: ${event.error.message}`;
              // Fail the requests waiting for delivery now rather than at their timeout.
              for (const entry of [...this.pending.values()]) {
                if (entry.sentInSession === null && !entry.inSocket)
                  this.settle(entry, this.authError(), false);
              }
            }
            break;
          default:
            break;
        }
      }
    } catch {
      // The observer ends when the socket closes.
    }
  }
}

function decodeReply(frame: Uint8Array): Reply | null {
  try {
    const value = decode(frame) as Partial<Reply> | null;
    if (!value || typeof value !== "object" || typeof value.id !== "string") return null;
    return value as Reply;
  } catch {
    return null;
  }
}
