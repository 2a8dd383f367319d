/**
 * Iterative pre-scans of request bytes (MessagePack and JSON) that refuse excess nesting, oversize
 * strings, huge collections and too many values before any decoder runs. They allocate nothing per
 * value (a stack as deep as the depth limit) and never recurse, so hostile input costs at most one
 * pass over the bytes.
 */

export interface ScanLimits {
  readonly maxDepth: number;
  readonly maxStringBytes: number;
  readonly maxKeyBytes: number;
  readonly maxCollectionLength: number;
  readonly maxTotalValues: number;
}

/** Why a scan refused the bytes. Fixed values: they are used as metric labels. */
export type ScanProblem =
  | "truncated"
  | "invalid-byte"
  | "extension-type"
  | "non-string-key"
  | "too-deep"
  | "string-too-long"
  | "key-too-long"
  | "collection-too-long"
  | "too-many-values"
  | "trailing-bytes";

export type ScanResult =
  | { readonly ok: true; /** Offset just after the scanned value. */ readonly end: number }
  | { readonly ok: false; readonly problem: ScanProblem; readonly message: string };

function refused(problem: ScanProblem, message: string): ScanResult {
  return { ok: false, problem, message };
}

/** Messages name the limit and its constant; they never quote the client's bytes. */
function limitMessage(problem: ScanProblem, limits: ScanLimits, got?: number): string {
  switch (problem) {
    case "too-deep":
      return `maps and arrays nest deeper than ${limits.maxDepth} levels (WIRE_LIMITS.maxDepth)`;
    case "string-too-long":
      return `a string or byte array of ${got} bytes exceeds ${limits.maxStringBytes} (WIRE_LIMITS.maxStringBytes)`;
    case "key-too-long":
      return `a map key of ${got} bytes exceeds ${limits.maxKeyBytes} (WIRE_LIMITS.maxKeyBytes)`;
    case "collection-too-long":
      return `a map or array of ${got} entries exceeds ${limits.maxCollectionLength} (WIRE_LIMITS.maxCollectionLength)`;
    case "too-many-values":
      return `the request holds more than ${limits.maxTotalValues} values (WIRE_LIMITS.maxTotalValues)`;
    default:
      return problem;
  }
}

/** Bytes of payload and kind announced by one MessagePack head byte (after its length field). */
interface Head {
  /** Bytes of the length field that follow the head byte. */
  readonly lengthBytes: number;
  readonly kind: "scalar" | "string" | "binary" | "array" | "map" | "extension" | "invalid";
  /** Fixed payload size of scalars and fixext, or the count carried in the head byte itself. */
  readonly inline: number;
}

const scalar = (inline: number): Head => ({ lengthBytes: 0, kind: "scalar", inline });
const lengthPrefixed = (kind: Head["kind"], lengthBytes: number): Head => ({ lengthBytes, kind, inline: 0 });
const EXTENSION: Head = { lengthBytes: 0, kind: "extension", inline: 0 };

/** The head bytes 0xc0 to 0xdf; 0xc1 is reserved and so absent (never valid). */
const TYPED_HEADS: ReadonlyMap<number, Head> = new Map([
  [0xc0, scalar(0)], // nil
  [0xc2, scalar(0)], // false
  [0xc3, scalar(0)], // true
  [0xc4, lengthPrefixed("binary", 1)],
  [0xc5, lengthPrefixed("binary", 2)],
  [0xc6, lengthPrefixed("binary", 4)],
  [0xc7, EXTENSION],
  [0xc8, EXTENSION],
  [0xc9, EXTENSION],
  [0xca, scalar(4)], // float 32
  [0xcb, scalar(8)], // float 64
  [0xcc, scalar(1)], // uint 8
  [0xcd, scalar(2)],
  [0xce, scalar(4)],
  [0xcf, scalar(8)],
  [0xd0, scalar(1)], // int 8
  [0xd1, scalar(2)],
  [0xd2, scalar(4)],
  [0xd3, scalar(8)],
  [0xd4, EXTENSION], // fixext 1 to 16
  [0xd5, EXTENSION],
  [0xd6, EXTENSION],
  [0xd7, EXTENSION],
  [0xd8, EXTENSION],
  [0xd9, lengthPrefixed("string", 1)],
  [0xda, lengthPrefixed("string", 2)],
  [0xdb, lengthPrefixed("string", 4)],
  [0xdc, lengthPrefixed("array", 2)],
  [0xdd, lengthPrefixed("array", 4)],
  [0xde, lengthPrefixed("map", 2)],
  [0xdf, lengthPrefixed("map", 4)],
]);

function head(byte: number): Head {
  if (byte <= 0x7f || byte >= 0xe0) return scalar(0);
  if (byte <= 0x8f) return { lengthBytes: 0, kind: "map", inline: byte & 0x0f };
  if (byte <= 0x9f) return { lengthBytes: 0, kind: "array", inline: byte & 0x0f };
  if (byte <= 0xbf) return { lengthBytes: 0, kind: "string", inline: byte & 0x1f };
  return TYPED_HEADS.get(byte) ?? { lengthBytes: 0, kind: "invalid", inline: 0 };
}

function readLength(bytes: Uint8Array, at: number, size: number): number {
  let value = 0;
  for (let i = 0; i < size; i++) value = value * 256 + bytes[at + i]!;
  return value;
}

/**
 * Scans one MessagePack value starting at `start`, reading no further than `end`. With `whole`, the
 * value must end exactly at `end`.
 */
export function scanMessagePack(
  bytes: Uint8Array,
  limits: ScanLimits,
  options: { readonly start?: number; readonly end?: number; readonly whole?: boolean } = {},
): ScanResult {
  const end = options.end ?? bytes.length;
  let pos = options.start ?? 0;
  let values = 0;
  // Per open container: values still to read, and whether it is a map (keys at even counts).
  const remaining: number[] = [];
  const isMap: boolean[] = [];
  do {
    if (pos >= end) return refused("truncated", "the MessagePack value ends early");
    const top = remaining.length - 1;
    const isKey = top >= 0 && isMap[top]! && remaining[top]! % 2 === 0;
    if (top >= 0) remaining[top]!--;
    if (++values > limits.maxTotalValues) {
      return refused("too-many-values", limitMessage("too-many-values", limits));
    }
    const byte = bytes[pos++]!;
    const { lengthBytes, kind, inline } = head(byte);
    if (kind === "invalid") return refused("invalid-byte", "the byte 0xc1 is never valid MessagePack");
    if (kind === "extension") {
      return refused("extension-type", "MessagePack extension types are not part of the protocol");
    }
    if (isKey && kind !== "string") {
      return refused("non-string-key", "map keys must be strings");
    }
    if (pos + lengthBytes > end) return refused("truncated", "the MessagePack value ends early");
    const count = lengthBytes ? readLength(bytes, pos, lengthBytes) : inline;
    pos += lengthBytes;
    if (kind === "scalar") {
      pos += inline;
    } else if (kind === "string" || kind === "binary") {
      const max = isKey ? limits.maxKeyBytes : limits.maxStringBytes;
      if (count > max) {
        const problem = isKey ? "key-too-long" : "string-too-long";
        return refused(problem, limitMessage(problem, limits, count));
      }
      pos += count;
    } else {
      if (count > limits.maxCollectionLength) {
        return refused("collection-too-long", limitMessage("collection-too-long", limits, count));
      }
      if (remaining.length + 1 > limits.maxDepth)
        return refused("too-deep", limitMessage("too-deep", limits));
      const entries = kind === "map" ? count * 2 : count;
      // Every value takes at least one byte: a header claiming more than the bytes left is a lie.
      if (entries > end - pos) return refused("truncated", "the MessagePack value ends early");
      if (entries > 0) {
        remaining.push(entries);
        isMap.push(kind === "map");
      }
    }
    if (pos > end) return refused("truncated", "the MessagePack value ends early");
    while (remaining.length > 0 && remaining[remaining.length - 1] === 0) {
      remaining.pop();
      isMap.pop();
    }
  } while (remaining.length > 0);
  if (options.whole && pos !== end) {
    return refused("trailing-bytes", "bytes follow the MessagePack value; a frame holds exactly one");
  }
  return { ok: true, end: pos };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;

/**
 * Scans JSON text for the same bounds. It only counts structure (it does not check JSON syntax;
 * JSON.parse does that afterwards, on bytes already known to be bounded).
 */
export function scanJson(bytes: Uint8Array, limits: ScanLimits): ScanResult {
  // Entries so far per open container: commas + 1 once the container holds anything.
  const entries: number[] = [];
  const empty: boolean[] = [];
  let values = 0;
  let stringStart = -1;
  let lastStringBytes = 0;
  for (let pos = 0; pos < bytes.length; pos++) {
    const byte = bytes[pos]!;
    if (stringStart >= 0) {
      if (byte === BACKSLASH) pos++;
      else if (byte === QUOTE) {
        lastStringBytes = pos - stringStart;
        stringStart = -1;
        if (lastStringBytes > limits.maxStringBytes) {
          return refused("string-too-long", limitMessage("string-too-long", limits, lastStringBytes));
        }
      }
      continue;
    }
    const top = entries.length - 1;
    if (top >= 0 && empty[top] && byte > 0x20 && byte !== 0x5d && byte !== 0x7d) {
      empty[top] = false;
      entries[top] = 1;
    }
    switch (byte) {
      case QUOTE:
        stringStart = pos + 1;
        break;
      case 0x5b: // [
      case 0x7b: // {
        if (entries.length + 1 > limits.maxDepth)
          return refused("too-deep", limitMessage("too-deep", limits));
        entries.push(0);
        empty.push(true);
        break;
      case 0x5d: // ]
      case 0x7d: // }
        entries.pop();
        empty.pop();
        break;
      case COLON:
        if (lastStringBytes > limits.maxKeyBytes) {
          return refused("key-too-long", limitMessage("key-too-long", limits, lastStringBytes));
        }
        values++;
        break;
      case COMMA:
        if (top >= 0 && ++entries[top]! > limits.maxCollectionLength) {
          return refused("collection-too-long", limitMessage("collection-too-long", limits, entries[top]));
        }
        values++;
        break;
    }
    if (values > limits.maxTotalValues) {
      return refused("too-many-values", limitMessage("too-many-values", limits));
    }
  }
  if (stringStart >= 0) return refused("truncated", "a JSON string is not closed");
  return { ok: true, end: bytes.length };
}
