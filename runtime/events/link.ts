/**
 * The NATS connection of the events service: connects in the background (the agent server starts
 * and spools even when NATS is down), reconnects forever, and after every (re)connect makes sure the
 * stream exists before saying it is usable.
 */
import type { Logger } from "pino";
import { connect, type ConnectionOptions, type JetStreamClient, type NatsConnection } from "nats";
import type { ZeroplaneConfig } from "../config/index.js";
import { ensureStream, StreamMismatchError } from "./stream.js";

export interface LinkCallbacks {
  /** Connected for the first time: subscribe here (subscriptions survive reconnects). */
  onConnected(connection: NatsConnection): void;
  /** After the stream is ready and before the link is usable: more setup (the registry's buckets). */
  prepare?(connection: NatsConnection): Promise<void>;
  /** Connected and the stream is ready. */
  onUsable(js: JetStreamClient): void;
  /** Disconnected, or the stream is not usable. */
  onUnusable(): void;
}

/** Strips user:password@ from a URL before it is logged. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//");
}

export class NatsLink {
  private connection: NatsConnection | null = null;
  private usable = false;
  private closed = false;
  private problem: string | null = null;
  private ensureTimer: NodeJS.Timeout | null = null;
  private generation = 0;

  constructor(
    private readonly nats: ZeroplaneConfig["nats"],
    private readonly options: ConnectionOptions,
    private readonly logger: Logger,
    private readonly callbacks: LinkCallbacks,
  ) {}

  /** Starts connecting; returns at once. */
  start(): void {
    void this.connectLoop();
  }

  isUsable(): boolean {
    return this.usable;
  }

  /** Why the link is not usable while connected, if known. */
  currentProblem(): string | null {
    return this.problem;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.ensureTimer) clearTimeout(this.ensureTimer);
    this.setUnusable();
    const connection = this.connection;
    this.connection = null;
    if (connection && !connection.isClosed()) {
      await connection.drain().catch(() => connection.close());
    }
  }

  private async connectLoop(): Promise<void> {
    const servers = this.nats.urls.map(redactUrl);
    while (!this.closed) {
      try {
        const connection = await connect(this.options);
        if (this.closed) {
          await connection.close();
          return;
        }
        this.connection = connection;
        this.logger.info({ server: redactUrl(connection.getServer()) }, "connected to NATS");
        this.callbacks.onConnected(connection);
        void this.watch(connection);
        void this.ensure(connection);
        return;
      } catch (error) {
        // waitOnFirstConnect retries unreachable servers itself; this is an auth or config failure.
        this.problem = `cannot connect to NATS (${servers.join(", ")}): ${(error as Error).message}`;
        this.logger.error({ err: error, servers }, `${this.problem}; retrying`);
        await new Promise((resolve) => setTimeout(resolve, Math.max(1000, this.nats.reconnectWaitMs)));
      }
    }
  }

  private async watch(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      if (this.closed) return;
      switch (status.type) {
        case "disconnect":
          this.logger.warn(
            { server: redactUrl(String(status.data)) },
            "disconnected from NATS; spooling events",
          );
          this.problem = "disconnected from NATS";
          this.generation += 1; // An ensure() still running belongs to the old connection.
          if (this.ensureTimer) clearTimeout(this.ensureTimer);
          this.setUnusable();
          break;
        case "reconnect":
          this.logger.info({ server: redactUrl(String(status.data)) }, "reconnected to NATS");
          void this.ensure(connection);
          break;
        case "error":
          this.logger.error({ err: status.data }, "NATS connection error");
          break;
        case "ldm":
          this.logger.warn({ server: redactUrl(String(status.data)) }, "NATS server entering lame-duck mode");
          break;
        default:
          break;
      }
    }
  }

  /** Creates or checks the stream, retrying until it works or the connection drops. */
  private async ensure(connection: NatsConnection): Promise<void> {
    const generation = ++this.generation;
    if (this.ensureTimer) clearTimeout(this.ensureTimer);
    this.ensureTimer = null;
    if (this.closed || connection.isClosed()) return;
    try {
      const jsm = await connection.jetstreamManager({ checkAPI: false, timeout: 5000 });
      await ensureStream(jsm, this.nats, this.logger);
      await this.callbacks.prepare?.(connection);
      if (generation !== this.generation || this.closed) return;
      this.problem = null;
      this.usable = true;
      this.callbacks.onUsable(connection.jetstream({ timeout: 5000 }));
    } catch (error) {
      if (generation !== this.generation || this.closed) return;
      const mismatch = error instanceof StreamMismatchError;
      this.problem = mismatch
        ? error.message
        : `cannot create or check JetStream stream ${this.nats.stream}: ${(error as Error).message}`;
      if (mismatch) this.logger.error({ stream: this.nats.stream }, this.problem);
      else this.logger.warn({ err: error, stream: this.nats.stream }, `${this.problem}; retrying`);
      this.setUnusable();
      // A mismatch needs an operator; check again now and then. Other failures (no JetStream leader yet) pass.
      const delay = mismatch ? 30_000 : Math.min(2000, this.nats.reconnectWaitMs);
      this.ensureTimer = setTimeout(() => void this.ensure(connection), delay);
      this.ensureTimer.unref();
    }
  }

  private setUnusable(): void {
    const was = this.usable;
    this.usable = false;
    if (was || this.problem) this.callbacks.onUnusable();
  }
}
