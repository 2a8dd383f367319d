/**
 * Errors the client raises. Each says what happened and what to do, and carries a `kind`
 * that the CLI maps to an exit code and that callers can branch on.
 */
import type { ErrorCode, ProtocolErrorBody } from "../protocol/index.js";

export type ClientErrorKind =
  /** The server answered with an error (for example NOT_FOUND). */
  | "server"
  /** No reply within the deadline: the server is stalled, overloaded or the reply was lost. */
  | "timeout"
  /** The request could not be delivered: no connection, or the circuit breaker is open. */
  | "unreachable"
  /** The CURVE handshake failed: wrong server key, or the client key is not allowlisted. */
  | "auth"
  /** Bad options or arguments given to the client. */
  | "usage"
  /** The client was closed. */
  | "closed";

export class ZeroplaneClientError extends Error {
  constructor(
    readonly kind: ClientErrorKind,
    message: string,
    /** Whether another attempt could succeed. */
    readonly retryable: boolean,
    /** The server endpoint involved, when there is one. */
    readonly endpoint?: string,
  ) {
    super(message);
    this.name = "ZeroplaneClientError";
  }
}

/** The server replied with an error body. */
export class RemoteError extends ZeroplaneClientError {
  readonly code: ErrorCode;
  constructor(body: ProtocolErrorBody, endpoint?: string) {
    super("server", body.message, body.retryable, endpoint);
    this.name = "RemoteError";
    this.code = body.code;
  }
}

/** The request was sent but no reply came in time; the server may or may not have acted on it. */
export class RequestTimeoutError extends ZeroplaneClientError {
  constructor(
    message: string,
    endpoint?: string,
    /** The connection dropped after the request was sent, so the server that got it may be gone. */
    readonly connectionLost = false,
  ) {
    super("timeout", message, true, endpoint);
    this.name = "RequestTimeoutError";
  }
}

/** The request never left the client: no connected server, or its circuit is open. Safe to send elsewhere. */
export class UnreachableError extends ZeroplaneClientError {
  constructor(message: string, endpoint?: string) {
    super("unreachable", message, true, endpoint);
    this.name = "UnreachableError";
  }
}

export class AuthenticationError extends ZeroplaneClientError {
  constructor(message: string, endpoint?: string) {
    super("auth", message, false, endpoint);
    this.name = "AuthenticationError";
  }
}

export class ClientUsageError extends ZeroplaneClientError {
  constructor(message: string) {
    super("usage", message, false);
    this.name = "ClientUsageError";
  }
}

export class ClientClosedError extends ZeroplaneClientError {
  constructor() {
    super("closed", "the client is closed. Fix: create a new ZeroplaneClient.", false);
    this.name = "ClientClosedError";
  }
}

/** Whether the request certainly did not reach a server, so it may be sent to another one. */
export function wasNotDelivered(error: unknown): boolean {
  return error instanceof UnreachableError || error instanceof AuthenticationError;
}
