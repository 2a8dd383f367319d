/**
 * Makes allowlist removals reach connections that are already open. ZAP is asked only during the
 * CURVE handshake, and zeromq.js exposes no per-message ZAP metadata (User-Id) to tell which key sent
 * a request. So after a reload that removes keys, the server closes every client connection: it
 * waits for the requests in flight to be answered (at most server.requestTimeoutMs), then closes
 * the ROUTER and PUB sockets and binds fresh ones to the same endpoints. Clients' DEALER and SUB
 * sockets reconnect by themselves and handshake again through ZAP, which refuses the revoked keys.
 *
 * Closing and re-creating is deliberate: zmq_unbind on a socket with live peers can trip a libzmq
 * 4.3 assertion (pipe.cpp, `_state == term_ack_sent`) and abort the process; closing does not.
 */
import type { Logger } from "pino";
import type { ServerMetrics } from "../observability/metrics.js";
import type { AllowlistChange } from "../security/allowlist.js";
import { keyFingerprint } from "../security/keys.js";
import { sleep, withTimeout } from "./deadline.js";

/** The part of a zeromq.js socket the recycler uses. */
export interface BindableSocket {
  bind(endpoint: string): Promise<void>;
  close(): void;
  readonly closed: boolean;
}

/** Something that serves one socket at a time: the request loop or the stream publisher. */
export interface SocketUser<S extends BindableSocket> {
  /** Closes the socket in service (ending its connections). */
  closeSocket(): Promise<void>;
  /** Puts a bound socket in service. */
  attach(socket: S): void;
}

/** One endpoint the recycler closes and binds again. */
export interface RecycleTarget {
  /** The resolved endpoint (no `*` port), bound again after closing. */
  readonly endpoint: string;
  /** Closes the socket in service, ending every connection accepted through it. */
  closeCurrent(): Promise<void>;
  /** Binds a fresh socket to the endpoint and puts it in service; throws while the port is busy. */
  bindFresh(): Promise<void>;
}

/** A RecycleTarget for a socket user and a factory of sockets with the right options. */
export function socketTarget<S extends BindableSocket>(
  endpoint: string,
  user: SocketUser<S>,
  create: () => S,
): RecycleTarget {
  return {
    endpoint,
    closeCurrent: () => user.closeSocket(),
    async bindFresh() {
      const socket = create();
      try {
        await socket.bind(endpoint);
      } catch (error) {
        socket.close();
        throw error;
      }
      user.attach(socket);
    },
  };
}

export interface ConnectionRecyclerOptions {
  readonly targets: readonly RecycleTarget[];
  /** Resolves when the requests in flight now have been answered. */
  readonly settled: () => Promise<void>;
  /** The longest wait for settled(): server.requestTimeoutMs, which no request outlives. */
  readonly settleTimeoutMs: number;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
}

/** Longest pause between attempts to re-bind an endpoint that is briefly still in use. */
const MAX_REBIND_DELAY_MS = 1_000;

export class ConnectionRecycler {
  private running: Promise<void> | null = null;
  private again = false;
  private unbound = false;
  private closed = false;
  private wakeOnClose: () => void = () => undefined;
  private readonly closing = new Promise<void>((resolve) => (this.wakeOnClose = resolve));

  constructor(private readonly options: ConnectionRecyclerOptions) {}

  /** The allowlist listener: recycles connections when a reload removed keys. */
  readonly onAllowlistChange = (change: AllowlistChange): void => {
    if (change.removed.length === 0 || this.closed) return;
    this.options.metrics.recordRevocations(change.removed.length);
    this.options.logger.warn(
      {
        revokedKeys: change.removed.length,
        clientFingerprints: change.removed.map((key) => keyFingerprint(key)),
      },
      "client keys revoked: closing every client connection so clients re-authenticate",
    );
    this.schedule();
  };

  /** False while an endpoint is not bound (normally a few milliseconds during a recycle). */
  bound(): boolean {
    return !this.unbound;
  }

  /** Resolves when no recycle is running. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops recycling (the server is closing its sockets). */
  async close(): Promise<void> {
    this.closed = true;
    this.wakeOnClose();
    await this.idle();
  }

  /** One recycle at a time; a revocation during a recycle gets a fresh pass after it. */
  private schedule(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.recycle();
      } while (this.again && !this.closed);
    })()
      .catch((error: Error) => {
        this.options.logger.error({ err: error.message }, "closing client connections failed");
      })
      .finally(() => {
        this.running = null;
      });
  }

  private async recycle(): Promise<void> {
    const startedAt = performance.now();
    await withTimeout(Promise.race([this.options.settled(), this.closing]), this.options.settleTimeoutMs);
    if (this.closed) return;
    this.unbound = true;
    try {
      // Closing a socket ends every connection accepted through it.
      for (const target of this.options.targets) await target.closeCurrent();
      for (const target of this.options.targets) await this.rebind(target);
    } finally {
      this.unbound = false;
    }
    if (this.closed) return;
    this.options.metrics.recordConnectionRecycle();
    this.options.logger.info(
      { ms: Math.round(performance.now() - startedAt) },
      "client connections closed; every client re-authenticates on reconnect",
    );
  }

  /** Binds again, retrying while the endpoint is still held by the closing socket. */
  private async rebind(target: RecycleTarget): Promise<void> {
    let delayMs = 10;
    for (let attempt = 1; !this.closed; attempt++) {
      try {
        await target.bindFresh();
        return;
      } catch (error) {
        // Log the first failure and then every tenth, not every attempt.
        if (attempt % 10 === 1) {
          this.options.logger.error(
            { endpoint: target.endpoint, attempt, err: (error as Error).message },
            "cannot bind again after closing connections; retrying",
          );
        }
        await sleep(delayMs);
        delayMs = Math.min(delayMs * 2, MAX_REBIND_DELAY_MS);
      }
    }
  }
}
