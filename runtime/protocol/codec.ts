/**
 * The envelope codec shared by the ZeroMQ ROUTER and NATS command intake (see docs/protocol.md).
 *
 * Decoding is bounded and never throws: the size is checked on the raw bytes first, then an
 * iterative scan refuses excess depth, length and volume, and only then does a decoder run. A bad
 * request becomes an error reply; messages name the limit and never quote client data at length.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import {
  ERROR_CODES,
  PROTOCOL_VERSION,
  ProtocolError,
  type ProtocolErrorBody,
  type StreamEvent,
} from "./index.js";
import { WIRE_LIMITS } from "./limits.js";
import { scanJson, scanMessagePack, type ScanProblem } from "./scan.js";

export type WireEncoding = "msgpack" | "json";

export interface DecodedRequest {
  readonly id: string;
  readonly method: unknown;
  readonly params: unknown;
}

/** Why a frame never reached the handler. Fixed values: they are used as metric labels. */
export type RefusalReason =
  ScanProblem | "too-large" | "not-msgpack" | "not-json" | "not-a-map" | "bad-id" | "bad-version";

export type DecodeOutcome =
  | { readonly ok: true; readonly request: DecodedRequest }
  | {
      readonly ok: false;
      readonly id: string;
      readonly error: ProtocolError;
      readonly reason: RefusalReason;
    };

export interface DecodeOptions {
  /** server.maxMessageBytes: larger frames are refused before anything reads them. */
  readonly maxMessageBytes: number;
  /** @default "msgpack" */
  readonly encoding?: WireEncoding;
}

/** How far into a refused frame the codec looks for an id to echo. */
export const ID_PEEK_BYTES = 1024;

// The scan enforces every bound first; the decoder's own limits repeat them as a second line.
const decoder = new Decoder({
  maxStrLength: WIRE_LIMITS.maxStringBytes,
  maxBinLength: WIRE_LIMITS.maxStringBytes,
  maxArrayLength: WIRE_LIMITS.maxCollectionLength,
  maxMapLength: WIRE_LIMITS.maxCollectionLength,
  maxExtLength: 0,
});
const encoder = new Encoder({ ignoreUndefined: true });

function refuse(
  id: string,
  reason: RefusalReason,
  code: ProtocolError["code"],
  message: string,
): DecodeOutcome {
  return { ok: false, id, reason, error: new ProtocolError(code, message) };
}

/**
 * A short, bounded description of a client value for an error message: never the whole value, and
 * never a walk over it.
 */
export function describeWireValue(value: unknown): string {
  if (typeof value === "string")
    return JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}...` : value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (value !== null && typeof value === "object") return "a map";
  return String(value);
}

function isValidId(id: unknown): id is string {
  return typeof id === "string" && id.length > 0 && id.length <= WIRE_LIMITS.maxRequestIdLength;
}

/**
 * The envelope's id, if a top-level `id` string appears within the first ID_PEEK_BYTES of a
 * MessagePack frame; "" otherwise. Bounded work, for replies to frames refused before decoding.
 */
export function peekRequestId(frame: Uint8Array): string {
  const end = Math.min(frame.length, ID_PEEK_BYTES);
  const first = frame[0];
  if (first === undefined || end < 1) return "";
  let entries: number;
  let pos: number;
  if (first >= 0x80 && first <= 0x8f) [entries, pos] = [first & 0x0f, 1];
  else if (first === 0xde && end >= 3) [entries, pos] = [(frame[1]! << 8) | frame[2]!, 3];
  else return "";
  const textDecoder = new TextDecoder();
  for (let i = 0; i < entries && pos < end; i++) {
    const key = scanMessagePack(frame, WIRE_LIMITS, { start: pos, end });
    if (!key.ok) return "";
    const isIdKey =
      key.end - pos === 3 && frame[pos] === 0xa2 && frame[pos + 1] === 0x69 && frame[pos + 2] === 0x64;
    const value = scanMessagePack(frame, WIRE_LIMITS, { start: key.end, end });
    if (!value.ok) return "";
    if (isIdKey) {
      const headByte = frame[key.end]!;
      const textStart =
        headByte >= 0xa0 && headByte <= 0xbf ? key.end + 1 : headByte === 0xd9 ? key.end + 2 : -1;
      if (textStart < 0) return "";
      const id = textDecoder.decode(frame.subarray(textStart, value.end));
      return isValidId(id) ? id : "";
    }
    pos = value.end;
  }
  return "";
}

function parse(frame: Uint8Array, encoding: WireEncoding): { ok: true; value: unknown } | DecodeOutcome {
  const scan =
    encoding === "json" ? scanJson(frame, WIRE_LIMITS) : scanMessagePack(frame, WIRE_LIMITS, { whole: true });
  const id = () => (encoding === "msgpack" ? peekRequestId(frame) : "");
  if (!scan.ok) {
    const what = encoding === "json" ? "JSON" : "MessagePack";
    return refuse(
      id(),
      scan.problem,
      ERROR_CODES.BAD_REQUEST,
      `the request is refused: ${scan.message}. Fix: send a ${what} map { v, id, method, params } within the limits in docs/protocol.md.`,
    );
  }
  try {
    const value = encoding === "json" ? JSON.parse(new TextDecoder().decode(frame)) : decoder.decode(frame);
    return { ok: true, value };
  } catch {
    // The decoder's message may quote the input: say what is wrong in our own words.
    return encoding === "json"
      ? refuse(
          "",
          "not-json",
          ERROR_CODES.BAD_REQUEST,
          "the request body is not valid JSON. Fix: send a JSON object { v, id, params }.",
        )
      : refuse(
          id(),
          "not-msgpack",
          ERROR_CODES.BAD_REQUEST,
          "the request frame is not valid MessagePack. Fix: send a MessagePack map { v, id, method, params }.",
        );
  }
}

/** Decodes one request frame into an envelope, or says what is wrong with it. */
export function decodeRequest(frame: Uint8Array, options: DecodeOptions): DecodeOutcome {
  const encoding = options.encoding ?? "msgpack";
  if (frame.length > options.maxMessageBytes) {
    return refuse(
      encoding === "msgpack" ? peekRequestId(frame) : "",
      "too-large",
      ERROR_CODES.MESSAGE_TOO_LARGE,
      `the request is ${frame.length} bytes; this server accepts at most ${options.maxMessageBytes} (server.maxMessageBytes). Fix: send less per request (for example stdin in several writes).`,
    );
  }
  const parsed = parse(frame, encoding);
  if (!("value" in parsed)) return parsed;
  const value = parsed.value;
  if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
    return refuse(
      "",
      "not-a-map",
      ERROR_CODES.BAD_REQUEST,
      "the request must be a map {v, id, method, params}",
    );
  }
  const envelope = value as Record<string, unknown>;
  const id = envelope.id;
  if (!isValidId(id)) {
    return refuse(
      "",
      "bad-id",
      ERROR_CODES.BAD_REQUEST,
      `the request id must be a string of 1-${WIRE_LIMITS.maxRequestIdLength} characters (WIRE_LIMITS.maxRequestIdLength); got ${describeWireValue(id)}`,
    );
  }
  if (envelope.v !== PROTOCOL_VERSION) {
    return refuse(
      id,
      "bad-version",
      ERROR_CODES.UNSUPPORTED_VERSION,
      `protocol version ${describeWireValue(envelope.v)} is not supported; this server speaks version ${PROTOCOL_VERSION}. Fix: send v: ${PROTOCOL_VERSION}.`,
    );
  }
  return { ok: true, request: { id, method: envelope.method, params: envelope.params } };
}

interface ReplyEnvelopeBody {
  readonly v: number;
  readonly id: string;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: ProtocolErrorBody;
}

function encodeReply(reply: ReplyEnvelopeBody, encoding: WireEncoding): Uint8Array {
  if (encoding === "msgpack") return encoder.encode(reply);
  // Read the raw value from the holder: Buffer's toJSON would run before a replacer sees `value`.
  const text = JSON.stringify(reply, function (this: Record<string, unknown>, key: string, value: unknown) {
    const raw = this[key];
    return raw instanceof Uint8Array ? Buffer.from(raw).toString("base64") : value;
  });
  return new TextEncoder().encode(text);
}

/** A success reply frame. JSON replies carry byte fields as base64 strings. */
export function encodeResult(id: string, result: unknown, encoding: WireEncoding = "msgpack"): Uint8Array {
  return encodeReply({ v: PROTOCOL_VERSION, id, ok: true, result }, encoding);
}

/** An error reply frame. */
export function encodeError(
  id: string,
  error: ProtocolErrorBody,
  encoding: WireEncoding = "msgpack",
): Uint8Array {
  return encodeReply(
    {
      v: PROTOCOL_VERSION,
      id,
      ok: false,
      error: { code: error.code, message: error.message, retryable: error.retryable },
    },
    encoding,
  );
}

/** The msgpack bytes of the key "data". */
const DATA_KEY = [0xa4, 0x64, 0x61, 0x74, 0x61];

/** A msgpack bin header for `length` bytes. */
function binHeader(length: number): number[] {
  if (length < 0x100) return [0xc4, length];
  if (length < 0x10000) return [0xc5, length >>> 8, length & 0xff];
  return [0xc6, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff];
}

/**
 * The msgpack bytes that come before the bytes of `data` in `{ ...fields, data }` where `data` is
 * `dataBytes` long. Bulk bytes are then written straight after this prefix, to a socket or into one
 * frame: the encoder would copy them into its buffer and then out again. Returns null when `fields`
 * do not encode as a fixmap of fewer than 15 entries (then take the plain way).
 */
function encodeDataPrefix(fields: Record<string, unknown>, dataBytes: number): Buffer | null {
  const head = encoder.encodeSharedRef(fields);
  const first = head[0]!;
  if ((first & 0xf0) !== 0x80 || (first & 0x0f) >= 15) return null;
  const tail = [...DATA_KEY, ...binHeader(dataBytes)];
  const prefix = Buffer.allocUnsafe(head.byteLength + tail.length);
  prefix.set(head, 0);
  prefix[0] = first + 1;
  prefix.set(tail, head.byteLength);
  return prefix;
}

type OutputEvent = Extract<StreamEvent, { kind: "output" }>;

/**
 * An output event whose `data` is the concatenation of `parts` (consecutive chunks sent as one
 * event), built with every byte copied once, straight into the frame.
 */
export function encodeOutputEvent(
  fields: Omit<OutputEvent, "data">,
  parts: readonly Uint8Array[],
): Uint8Array {
  let dataBytes = 0;
  for (const part of parts) dataBytes += part.byteLength;
  const prefix = encodeDataPrefix(fields, dataBytes);
  if (!prefix) return encoder.encode({ ...fields, data: Buffer.concat(parts, dataBytes) });
  const frame = Buffer.allocUnsafe(prefix.byteLength + dataBytes);
  frame.set(prefix, 0);
  let at = prefix.byteLength;
  for (const part of parts) {
    frame.set(part, at);
    at += part.byteLength;
  }
  return frame;
}

/** A PUB stream body; output events are built as encodeOutputEvent does. */
export function encodeStreamEvent(event: StreamEvent): Uint8Array {
  if (event.kind !== "output") return encoder.encode(event);
  const { data, ...fields } = event;
  return encodeOutputEvent(fields, [data]);
}
