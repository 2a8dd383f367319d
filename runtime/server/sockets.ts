/**
 * ZeroMQ socket options for the server's ROUTER and PUB sockets, from config.server and
 * config.security: heartbeats, high-water marks, handshake timeout, TCP keepalive, the message
 * size ceiling, and CURVE with ZAP. Also the watch on their failed handshakes, logged at a bounded
 * rate (libzmq retries a client with the wrong server key about every 100 ms).
 */
import type { Logger } from "pino";
import type { Context, Publisher, Router } from "zeromq";
import type { ZeroplaneConfig } from "../config/index.js";
import { ZAP_DOMAIN } from "../security/zap.js";

/**
 * libzmq's per-frame ceiling (ZMQ_MAXMSGSIZE on the ROUTER). Frames up to maxMessageBytes are
 * served; frames between that and the ceiling are answered with MESSAGE_TOO_LARGE without being
 * decoded; beyond the ceiling libzmq drops the connection without reading the rest.
 */
export function hardMessageLimit(maxMessageBytes: number): number {
  return Math.min(maxMessageBytes * 2, maxMessageBytes + 64 * 1024 * 1024);
}

export interface ServerSocketOptions {
  readonly context: Context;
  readonly linger: number;
  readonly sendHighWaterMark: number;
  readonly receiveHighWaterMark?: number;
  readonly maxMessageSize: number;
  readonly heartbeatInterval: number;
  readonly heartbeatTimeout: number;
  readonly heartbeatTimeToLive: number;
  readonly handshakeInterval: number;
  readonly tcpKeepalive: number;
  readonly tcpKeepaliveIdle: number;
  readonly tcpKeepaliveInterval: number;
  readonly curveServer?: boolean;
  readonly curveSecretKey?: string;
  readonly zapDomain?: string;
  readonly zapEnforceDomain?: boolean;
}

/** Options for the ROUTER ("router") or the PUB socket ("publisher", which never receives). */
export function serverSocketOptions(
  config: ZeroplaneConfig,
  context: Context,
  secretKey: string | null,
  kind: "router" | "publisher",
): ServerSocketOptions {
  const server = config.server;
  const options: ServerSocketOptions = {
    context,
    // Replies still queued at close get this long to leave.
    linger: 500,
    sendHighWaterMark: kind === "router" ? server.sendHighWaterMark : server.publishHighWaterMark,
    ...(kind === "router" ? { receiveHighWaterMark: server.receiveHighWaterMark } : {}),
    maxMessageSize: hardMessageLimit(server.maxMessageBytes),
    heartbeatInterval: server.heartbeatIntervalMs,
    heartbeatTimeout: server.heartbeatTimeoutMs,
    heartbeatTimeToLive: server.heartbeatTtlMs,
    handshakeInterval: server.handshakeTimeoutMs,
    // TCP keepalive finds dead peers behind NAT and load balancers that heartbeats cannot reach.
    tcpKeepalive: 1,
    tcpKeepaliveIdle: 60,
    tcpKeepaliveInterval: 10,
  };
  if (!secretKey) return options;
  return {
    ...options,
    curveServer: true,
    curveSecretKey: secretKey,
    zapDomain: ZAP_DOMAIN,
    // Without a ZAP handler, refuse every client instead of admitting them all.
    zapEnforceDomain: true,
  };
}

/** How often one kind of handshake or auth failure is logged at most; metrics count every one. */
export const FAILURE_LOG_INTERVAL_MS = 10_000;
/** Kinds of failure tracked at once (reasons come from fixed sets; this only bounds the map). */
const MAX_FAILURE_KINDS = 64;

/**
 * Logs repeated failures of one kind (a ZAP reason, a handshake error code) at most once per
 * interval. The first is logged at once; the next line after a quiet spell says how many were
 * not logged (`suppressed`).
 */
export class FailureLog {
  private readonly kinds = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number = FAILURE_LOG_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  record(level: "info" | "warn", kind: string, fields: Record<string, unknown>, message: string): void {
    const now = this.now();
    const seen = this.kinds.get(kind);
    if (seen && now - seen.loggedAt < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    if (!seen && this.kinds.size >= MAX_FAILURE_KINDS) this.kinds.clear();
    const suppressed = seen?.suppressed ?? 0;
    this.kinds.set(kind, { loggedAt: now, suppressed: 0 });
    this.logger[level]({ ...fields, ...(suppressed ? { suppressed } : {}) }, message);
  }
}

/** Counts every failed handshake on a socket (through onFailure) as it happens. */
export function watchHandshakes<S extends Router | Publisher>(
  socket: S,
  onFailure: (reason: string, peer: string) => void,
): S {
  socket.events.on("handshake:error:protocol", (event) => onFailure(event.error.code, event.address));
  return socket;
}
