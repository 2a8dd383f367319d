/**
 * Makes allowlist removals reach connections that are already open. ZAP is asked only during the
 * CURVE handshake, and zeromq.js exposes no per-message ZAP metadata (User-Id) to tell which key sent
 * a request. So after a reload that removes keys, the server closes every client connection: it
 * waits for the requests in flight to be answered (at most server.requestTimeoutMs), then unbinds
 * and re-binds the ROUTER and PUB endpoints. Clients' DEALER and SUB sockets reconnect by themselves
 * and handshake again through ZAP, which refuses the revoked keys.
 */
import type { Logger } from "pino";
import type { ServerMetrics } from "../observability/metrics.js";
import type { AllowlistChange } from "../security/allowlist.js";
import { keyFingerprint } from "../security/keys.js";
import { sleep, withTimeout } from "./deadline.js";

/** The part of a zeromq.js socket the recycler uses. */
export interface RebindableSocket {
  bind(endpoint: string): Promise<void>;
  unbind(endpoint: string): Promise<void>;
  readonly closed: boolean;
}

export interface ConnectionRecyclerOptions {
  /** Each socket with the endpoint it is bound to (resolved: no `*` port). */
  readonly sockets: ReadonlyArray<{ readonly socket: RebindableSocket; readonly endpoint: string }>;
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

  /** False while an endpoint is unbound (normally a few milliseconds during a recycle). */
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
    const sockets = this.options.sockets.filter(({ socket }) => !socket.closed);
    this.unbound = true;
    try {
      // Unbinding an endpoint ends every connection accepted through it.
      for (const { socket, endpoint } of sockets) {
        await socket.unbind(endpoint).catch((error: Error) => {
          this.options.logger.error({ endpoint, err: error.message }, "cannot unbind to close connections");
        });
      }
      for (const { socket, endpoint } of sockets) await this.rebind(socket, endpoint);
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

  /** Binds again, retrying while the endpoint is still held by the closing listener. */
  private async rebind(socket: RebindableSocket, endpoint: string): Promise<void> {
    let delayMs = 10;
    for (let attempt = 1; ; attempt++) {
      if (this.closed || socket.closed) return;
      try {
        await socket.bind(endpoint);
        return;
      } catch (error) {
        if (this.closed || socket.closed) return;
        // Log the first failure and then every tenth, not every attempt.
        if (attempt % 10 === 1) {
          this.options.logger.error(
            { endpoint, attempt, err: (error as Error).message },
            "cannot re-bind after closing connections; retrying",
          );
        }
        await sleep(delayMs);
        delayMs = Math.min(delayMs * 2, MAX_REBIND_DELAY_MS);
      }
    }
  }
}
