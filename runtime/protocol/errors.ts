/**
 * Wire errors: the codes, whether a retry can help, and the error class that carries them. Kept
 * apart from the schemas (no zod) so the runner process, which only needs ProtocolError, stays small.
 */

export const ERROR_CODES = {
  /** The request is malformed or its params fail validation. Retrying the same request cannot help. */
  BAD_REQUEST: "BAD_REQUEST",
  UNKNOWN_METHOD: "UNKNOWN_METHOD",
  UNSUPPORTED_VERSION: "UNSUPPORTED_VERSION",
  MESSAGE_TOO_LARGE: "MESSAGE_TOO_LARGE",
  NOT_FOUND: "NOT_FOUND",
  /** max_agents reached. Retrying later, or on another server, can help. */
  CAPACITY: "CAPACITY",
  /** The agent is in a state that does not allow the action (for example resume while running). */
  INVALID_STATE: "INVALID_STATE",
  SPAWN_FAILED: "SPAWN_FAILED",
  /** The server is shutting down. Retrying on another server can help. */
  DRAINING: "DRAINING",
  /** A dependency (such as the event spool) cannot accept work now. */
  UNAVAILABLE: "UNAVAILABLE",
  TIMEOUT: "TIMEOUT",
  INTERNAL: "INTERNAL",
} as const;
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** Whether a retry can help, per error code. The server sets `retryable` from this table. */
export const RETRYABLE: Record<ErrorCode, boolean> = {
  BAD_REQUEST: false,
  UNKNOWN_METHOD: false,
  UNSUPPORTED_VERSION: false,
  MESSAGE_TOO_LARGE: false,
  NOT_FOUND: false,
  CAPACITY: true,
  INVALID_STATE: false,
  SPAWN_FAILED: false,
  DRAINING: true,
  UNAVAILABLE: true,
  TIMEOUT: true,
  INTERNAL: true,
};

export interface ProtocolErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly retryable: boolean;
}

/** An error that travels over the wire. */
export class ProtocolError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: ErrorCode,
    message: string,
    retryable?: boolean,
  ) {
    super(message);
    this.name = "ProtocolError";
    this.retryable = retryable ?? RETRYABLE[code];
  }
  toBody(): ProtocolErrorBody {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

/** Converts anything thrown into a wire error; unexpected errors become INTERNAL without details. */
export function toProtocolError(error: unknown): ProtocolError {
  if (error instanceof ProtocolError) return error;
  return new ProtocolError(ERROR_CODES.INTERNAL, "internal server error");
}
