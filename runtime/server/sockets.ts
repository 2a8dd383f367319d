/**
 * ZeroMQ socket options for the server's ROUTER and PUB sockets, from config.server and
 * config.security: heartbeats, high-water marks, handshake timeout, TCP keepalive, the message
 * size ceiling, and CURVE with ZAP.
 */
import type { Context } from "zeromq";
import type { ZeroplaneConfig } from "../config/index.js";
import { ZAP_DOMAIN } from "../security/zap.js";

/**
 * libzmq's per-frame ceiling. Frames up to maxMessageBytes are served; frames between that and the
 * ceiling are read and answered with MESSAGE_TOO_LARGE; beyond the ceiling libzmq drops the
 * connection without reading the rest.
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
    sendHighWaterMark: server.sendHighWaterMark,
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
