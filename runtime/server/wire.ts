/**
 * Request and reply envelopes on the wire: one MessagePack frame each (see docs/protocol.md).
 * Decoding never throws: a bad frame becomes an error reply the socket can send back.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { ERROR_CODES, PROTOCOL_VERSION, ProtocolError, type ProtocolErrorBody } from "../protocol/index.js";

/** Longest request id echoed back; longer ids are refused. */
export const MAX_REQUEST_ID_LENGTH = 256;

// Bounded collection sizes: a hostile header cannot make the decoder allocate a huge array.
const decoder = new Decoder({
  maxArrayLength: 100_000,
  maxMapLength: 100_000,
  maxExtLength: 0,
});
const encoder = new Encoder({ ignoreUndefined: true });

export interface DecodedRequest {
  readonly id: string;
  readonly method: unknown;
  readonly params: unknown;
}

export type DecodeOutcome =
  | { readonly ok: true; readonly request: DecodedRequest }
  | { readonly ok: false; readonly id: string; readonly error: ProtocolError; readonly reason: string };

function refuse(id: string, reason: string, code: ProtocolError["code"], message: string): DecodeOutcome {
  return { ok: false, id, reason, error: new ProtocolError(code, message) };
}

/** Decodes one request frame into an envelope, or says what is wrong with it. */
export function decodeRequest(frame: Uint8Array): DecodeOutcome {
  let value: unknown;
  try {
    value = decoder.decode(frame);
  } catch {
    return refuse("", "not-msgpack", ERROR_CODES.BAD_REQUEST, "the request frame is not valid MessagePack");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
    return refuse(
      "",
      "not-a-map",
      ERROR_CODES.BAD_REQUEST,
      "the request must be a MessagePack map {v, id, method, params}",
    );
  }
  const envelope = value as Record<string, unknown>;
  const id = envelope.id;
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_REQUEST_ID_LENGTH) {
    return refuse(
      "",
      "bad-id",
      ERROR_CODES.BAD_REQUEST,
      `the request id must be a string of 1-${MAX_REQUEST_ID_LENGTH} characters`,
    );
  }
  if (envelope.v !== PROTOCOL_VERSION) {
    return refuse(
      id,
      "bad-version",
      ERROR_CODES.UNSUPPORTED_VERSION,
      `protocol version ${JSON.stringify(envelope.v)?.slice(0, 32)} is not supported; this server speaks version ${PROTOCOL_VERSION}`,
    );
  }
  return { ok: true, request: { id, method: envelope.method, params: envelope.params } };
}

/** A success reply frame. */
export function encodeResult(id: string, result: unknown): Uint8Array {
  return encoder.encode({ v: PROTOCOL_VERSION, id, ok: true, result });
}

/** An error reply frame. */
export function encodeError(id: string, error: ProtocolErrorBody): Uint8Array {
  return encoder.encode({
    v: PROTOCOL_VERSION,
    id,
    ok: false,
    error: { code: error.code, message: error.message, retryable: error.retryable },
  });
}

/** A PUB stream body. */
export function encodeStreamEvent(event: unknown): Uint8Array {
  return encoder.encode(event);
}
