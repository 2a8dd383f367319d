/**
 * ZeroMQ socket settings the client applies to every DEALER and SUB socket. Dead peers are found by
 * ZMTP heartbeats and TCP keepalive, both on by default.
 */
import type { Dealer, Subscriber } from "zeromq";
import type { CurveClientKeys } from "./curve.js";

export interface ClientSocketOptions {
  /** Interval between ZMTP heartbeats (PING); 0 turns them off. @default 5000 */
  readonly heartbeatIntervalMs?: number;
  /** A connection with no traffic for this long after a PING is dropped. @default 15000 */
  readonly heartbeatTimeoutMs?: number;
  /** Tells the server to drop the connection after this long without traffic from us. @default 30000 */
  readonly heartbeatTtlMs?: number;
  /** TCP keepalive probes from the kernel. @default true */
  readonly tcpKeepalive?: boolean;
  /** Idle seconds before the first keepalive probe. @default 30 */
  readonly tcpKeepaliveIdleSec?: number;
  /** Seconds between keepalive probes. @default 10 */
  readonly tcpKeepaliveIntervalSec?: number;
  /** Unanswered probes before the kernel drops the connection. @default 3 */
  readonly tcpKeepaliveCount?: number;
  /** Messages queued towards a server before sends wait. @default 10000 */
  readonly sendHighWaterMark?: number;
  /** Messages queued from a server before ZeroMQ stops reading. @default 10000 */
  readonly receiveHighWaterMark?: number;
  /** A connection whose ZMTP (and CURVE) handshake takes longer is dropped. @default 10000 */
  readonly handshakeTimeoutMs?: number;
  /** First delay before reconnecting to a lost server. @default 100 */
  readonly reconnectIntervalMs?: number;
  /** Reconnect delays double up to this. @default 2000 */
  readonly reconnectMaxIntervalMs?: number;
  /** Largest reply accepted, in bytes; -1 for no limit. @default 64 MiB */
  readonly maxMessageBytes?: number;
}

export const DEFAULT_SOCKET_OPTIONS: Required<ClientSocketOptions> = {
  heartbeatIntervalMs: 5_000,
  heartbeatTimeoutMs: 15_000,
  heartbeatTtlMs: 30_000,
  tcpKeepalive: true,
  tcpKeepaliveIdleSec: 30,
  tcpKeepaliveIntervalSec: 10,
  tcpKeepaliveCount: 3,
  sendHighWaterMark: 10_000,
  receiveHighWaterMark: 10_000,
  handshakeTimeoutMs: 10_000,
  reconnectIntervalMs: 100,
  reconnectMaxIntervalMs: 2_000,
  maxMessageBytes: 64 * 1024 * 1024,
};

/** The constructor options for a zeromq Dealer or Subscriber with these settings and keys. */
export function zmqSocketOptions(
  options: ClientSocketOptions,
  curve: CurveClientKeys | null,
  kind: "dealer" | "subscriber" = "dealer",
): Partial<Dealer> & Partial<Subscriber> {
  const o = { ...DEFAULT_SOCKET_OPTIONS, ...options };
  return {
    // A SUB socket only receives, so it has no send high-water mark.
    ...(kind === "dealer" ? { sendHighWaterMark: o.sendHighWaterMark } : {}),
    linger: 0,
    heartbeatInterval: o.heartbeatIntervalMs,
    heartbeatTimeout: o.heartbeatTimeoutMs,
    heartbeatTimeToLive: o.heartbeatTtlMs,
    tcpKeepalive: o.tcpKeepalive ? 1 : 0,
    ...(o.tcpKeepalive
      ? {
          tcpKeepaliveIdle: o.tcpKeepaliveIdleSec,
          tcpKeepaliveInterval: o.tcpKeepaliveIntervalSec,
          tcpKeepaliveCount: o.tcpKeepaliveCount,
        }
      : {}),
    receiveHighWaterMark: o.receiveHighWaterMark,
    handshakeInterval: o.handshakeTimeoutMs,
    reconnectInterval: o.reconnectIntervalMs,
    reconnectMaxInterval: o.reconnectMaxIntervalMs,
    maxMessageSize: o.maxMessageBytes,
    ...(curve
      ? {
          curveServerKey: curve.serverPublicKey,
          curvePublicKey: curve.publicKey,
          curveSecretKey: curve.secretKey,
        }
      : {}),
  };
}
