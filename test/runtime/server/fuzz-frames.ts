/**
 * A structure-aware generator of hostile request frames, shared by the ZeroMQ fuzz test and the NATS
 * command-path test. Each case says which error code each path must answer with: deep nesting of
 * every type in every envelope field and every param, huge collections, and hostile params for
 * every method. Deep values are written as raw MessagePack bytes (an encoder would recurse).
 */
import { encode } from "@msgpack/msgpack";
import { rssBytes, type ServerProcess } from "../../support/server-process.js";
import type { Reply } from "./wire-client.js";
import {
  ERROR_CODES,
  METHOD_PARAMS,
  REQUEST_LIMITS,
  WIRE_LIMITS,
  type ErrorCode,
  type Method,
} from "../../../runtime/protocol/index.js";

export interface HostileCase {
  readonly name: string;
  /** The method whose subject the NATS path sends to (the envelope's own method may differ). */
  readonly subjectMethod: Method;
  readonly frame: Uint8Array;
  /** The error code the ZeroMQ path answers with. */
  readonly zmq: ErrorCode;
  /** The error code the NATS path answers with (the method comes from the subject there). */
  readonly nats: ErrorCode;
}

const { BAD_REQUEST, UNKNOWN_METHOD, UNSUPPORTED_VERSION } = ERROR_CODES;

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A map header for n entries. */
function mapHeader(n: number): Uint8Array {
  return n < 16 ? Uint8Array.from([0x80 | n]) : Uint8Array.from([0xde, n >> 8, n & 0xff]);
}

/** A map from keys to raw (already encoded) values. */
export function rawMap(entries: ReadonlyArray<readonly [string, Uint8Array]>): Uint8Array {
  return concat([mapHeader(entries.length), ...entries.flatMap(([key, value]) => [encode(key), value])]);
}

/** One leaf of every MessagePack type, the extension type included. */
export const LEAVES: Readonly<Record<string, Uint8Array>> = {
  nil: Uint8Array.from([0xc0]),
  bool: Uint8Array.from([0xc3]),
  int: Uint8Array.from([0x2a]),
  negative: Uint8Array.from([0xe0]),
  uint64: Uint8Array.from([0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
  float: Uint8Array.from([0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]), // NaN
  string: encode("x"),
  binary: Uint8Array.from([0xc4, 0x01, 0x00]),
  extension: Uint8Array.from([0xd4, 0x01, 0x00]),
  emptyMap: Uint8Array.from([0x80]),
  emptyArray: Uint8Array.from([0x90]),
};

export type NestingKind = "array" | "map" | "mixed";

/** `depth` containers of one kind (or alternating) around a leaf. */
export function nested(kind: NestingKind, depth: number, leaf: Uint8Array): Uint8Array {
  const arrayLevel = Uint8Array.from([0x91]);
  const mapLevel = Uint8Array.from([0x81, 0xa1, 0x6b]); // { k: ... }
  const levelSize = (i: number) =>
    kind === "array" || (kind === "mixed" && i % 2 === 0) ? arrayLevel : mapLevel;
  let size = leaf.length;
  for (let i = 0; i < depth; i++) size += levelSize(i).length;
  const out = new Uint8Array(size);
  let at = 0;
  for (let i = 0; i < depth; i++) {
    const level = levelSize(i);
    out.set(level, at);
    at += level.length;
  }
  out.set(leaf, at);
  return out;
}

/** Valid params of each method, against which one field at a time is made hostile. */
export const BASE_PARAMS: Readonly<Record<Method, Record<string, unknown>>> = {
  spawn: { command: "/nonexistent/zeroplane-fuzz" },
  control: { agentId: "fuzz-missing", action: "kill" },
  batchControl: { agentIds: ["fuzz-missing"], action: "kill" },
  list: {},
  get: { agentId: "fuzz-missing" },
  output: { agentId: "fuzz-missing" },
  health: {},
  stats: {},
};

const METHOD_NAMES = Object.keys(METHOD_PARAMS) as Method[];

function paramFields(method: Method): string[] {
  const shape = (METHOD_PARAMS[method] as unknown as { shape: Record<string, unknown> }).shape;
  return [...Object.keys(shape), "unknownKey"];
}

/** An envelope with one field replaced by raw bytes (or added, for a param). */
function envelope(
  id: string,
  method: Method,
  override: { field: "v" | "id" | "method" | "params"; raw: Uint8Array } | null,
  paramsRaw?: Uint8Array,
): Uint8Array {
  const fields: Array<[string, Uint8Array]> = [
    ["v", encode(1)],
    ["id", encode(id)],
    ["method", encode(method)],
    ["params", paramsRaw ?? encode(BASE_PARAMS[method])],
  ];
  if (override) fields.find(([key]) => key === override.field)![1] = override.raw;
  return rawMap(fields);
}

/** Params of `method` with `field` set to raw bytes. */
function paramsWith(method: Method, field: string, raw: Uint8Array): Uint8Array {
  const base = Object.entries(BASE_PARAMS[method]).filter(([key]) => key !== field);
  return rawMap([...base.map(([key, value]) => [key, encode(value)] as const), [field, raw]]);
}

/** What each envelope field answers with when its value is well-formed MessagePack of the wrong kind. */
function wrongFieldCodes(field: "v" | "id" | "method" | "params"): { zmq: ErrorCode; nats: ErrorCode } {
  switch (field) {
    case "v":
      return { zmq: UNSUPPORTED_VERSION, nats: UNSUPPORTED_VERSION };
    case "method":
      // ZeroMQ: not a method name. NATS: the subject names the method; the envelope disagrees.
      return { zmq: UNKNOWN_METHOD, nats: BAD_REQUEST };
    default:
      return { zmq: BAD_REQUEST, nats: BAD_REQUEST };
  }
}

const ENVELOPE_FIELDS = ["v", "id", "method", "params"] as const;
/** The deepest nesting a field can hold (the envelope is level 1), then past it, then far past it. */
const DEPTHS = [WIRE_LIMITS.maxDepth - 1, WIRE_LIMITS.maxDepth, 5_000, 100_000];

/** Deep nesting of every kind, around every leaf type, in every envelope field. */
export function* deepEnvelopeCases(): Generator<HostileCase> {
  let n = 0;
  for (const field of ENVELOPE_FIELDS) {
    for (const kind of ["array", "map", "mixed"] as const) {
      for (const depth of DEPTHS) {
        for (const [leafName, leaf] of Object.entries(LEAVES)) {
          const leafIsContainer = leafName === "emptyMap" || leafName === "emptyArray";
          const tooDeep = depth + (leafIsContainer ? 1 : 0) > WIRE_LIMITS.maxDepth - 1;
          const refusedByCodec = tooDeep || leafName === "extension";
          const codes = refusedByCodec ? { zmq: BAD_REQUEST, nats: BAD_REQUEST } : wrongFieldCodes(field);
          yield {
            name: `${field} = ${kind} nested ${depth} deep around ${leafName}`,
            subjectMethod: "health",
            frame: envelope(`deep${n++}`, "health", { field, raw: nested(kind, depth, leaf) }),
            ...codes,
          };
        }
      }
    }
  }
}

/** Deep nesting in every param of every method. */
export function* deepParamCases(): Generator<HostileCase> {
  let n = 0;
  for (const method of METHOD_NAMES) {
    for (const field of paramFields(method)) {
      for (const kind of ["array", "map", "mixed"] as const) {
        for (const depth of [WIRE_LIMITS.maxDepth - 3, 5_000]) {
          yield {
            name: `${method} params.${field} = ${kind} nested ${depth} deep`,
            subjectMethod: method,
            frame: envelope(
              `dp${n++}`,
              method,
              null,
              paramsWith(method, field, nested(kind, depth, LEAVES.int!)),
            ),
            zmq: BAD_REQUEST,
            nats: BAD_REQUEST,
          };
        }
      }
    }
  }
}

/** Collections over the entry and total-value caps, and headers claiming billions of entries. */
function hugeCollections(): Array<[string, Uint8Array]> {
  const over = WIRE_LIMITS.maxCollectionLength + 1;
  const zeros = new Uint8Array(over);
  const bigArray = concat([Uint8Array.from([0xdc, over >> 8, over & 0xff]), zeros]);
  const mapEntries = concat(
    Array.from({ length: over }, (_, i) => concat([encode(`k${i}`), Uint8Array.from([0x00])])),
  );
  const bigMap = concat([Uint8Array.from([0xde, over >> 8, over & 0xff]), mapEntries]);
  // Under the per-collection cap everywhere, over the total.
  const rows = Math.ceil(WIRE_LIMITS.maxTotalValues / 10) + 1;
  const row = Uint8Array.from([0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const manyValues = concat([
    Uint8Array.from([0xdc, rows >> 8, rows & 0xff]),
    ...Array.from({ length: rows }, () => row),
  ]);
  return [
    ["array32 claiming 2^32-1 entries", Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff])],
    ["map32 claiming 2^31-1 entries", Uint8Array.from([0xdf, 0x7f, 0xff, 0xff, 0xff])],
    [`array of ${over} entries`, bigArray],
    [`map of ${over} entries`, bigMap],
    [`${rows} arrays of 9 (over ${WIRE_LIMITS.maxTotalValues} values)`, manyValues],
  ];
}

/** Huge collections in every envelope field and every param of every method. */
export function* hugeCollectionCases(): Generator<HostileCase> {
  let n = 0;
  const collections = hugeCollections();
  for (const field of ENVELOPE_FIELDS) {
    for (const [what, raw] of collections) {
      yield {
        name: `${field} = ${what}`,
        subjectMethod: "health",
        frame: envelope(`hc${n++}`, "health", { field, raw }),
        zmq: BAD_REQUEST,
        nats: BAD_REQUEST,
      };
    }
  }
  for (const method of METHOD_NAMES) {
    for (const field of paramFields(method)) {
      for (const [what, raw] of collections) {
        yield {
          name: `${method} params.${field} = ${what}`,
          subjectMethod: method,
          frame: envelope(`hp${n++}`, method, null, paramsWith(method, field, raw)),
          zmq: BAD_REQUEST,
          nats: BAD_REQUEST,
        };
      }
    }
  }
}

/** Values of every kind, over every cap; those a field would accept are skipped per field. */
const HOSTILE_VALUES: readonly unknown[] = [
  null,
  true,
  -1,
  0,
  0.5,
  2 ** 31,
  2 ** 53 + 2,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  "",
  "SIG",
  "x".repeat(REQUEST_LIMITS.writeBytes + 1),
  new Uint8Array(REQUEST_LIMITS.writeBytes + 1),
  [],
  ["a".repeat(REQUEST_LIMITS.argBytes + 1)],
  Array.from({ length: REQUEST_LIMITS.argsCount + 1 }, () => "a"),
  Array.from({ length: REQUEST_LIMITS.batchAgents + 1 }, (_, i) => `a${i}`),
  { "bad key!": "v" },
  { A: "v".repeat(REQUEST_LIMITS.envTotalBytes) },
  Object.fromEntries(Array.from({ length: REQUEST_LIMITS.envCount + 1 }, (_, i) => [`K${i}`, "v"])),
  { nested: { deeper: [1, { again: true }] } },
];

/** One hostile value in one param of every method, each refused with BAD_REQUEST naming the field. */
export function* hostileParamCases(): Generator<HostileCase> {
  let n = 0;
  for (const method of METHOD_NAMES) {
    const schema = METHOD_PARAMS[method];
    for (const field of paramFields(method)) {
      for (const value of HOSTILE_VALUES) {
        const params = { ...BASE_PARAMS[method], [field]: value };
        if (schema.safeParse(params).success) continue; // Not hostile for this field.
        yield {
          name: `${method} params.${field} = ${describe(value)}`,
          subjectMethod: method,
          frame: envelope(`pp${n++}`, method, null, encode(params)),
          zmq: BAD_REQUEST,
          nats: BAD_REQUEST,
        };
      }
    }
  }
}

/** Keys that name prototype members, as envelope keys and as param keys. */
export function prototypeKeyCases(): HostileCase[] {
  const proto = (id: string, key: string, where: "envelope" | "params") => {
    const params = where === "params" ? rawMap([[key, encode({ polluted: true })]]) : encode({});
    const entries: Array<[string, Uint8Array]> = [
      ["v", encode(1)],
      ["id", encode(id)],
      ["method", encode("health")],
      ["params", params],
    ];
    if (where === "envelope") entries.push([key, encode({ polluted: true })]);
    return rawMap(entries);
  };
  return [
    // The decoder refuses __proto__ anywhere; other prototype names are plain keys.
    {
      name: "__proto__ envelope key",
      subjectMethod: "health",
      frame: proto("pk1", "__proto__", "envelope"),
      zmq: BAD_REQUEST,
      nats: BAD_REQUEST,
    },
    {
      name: "__proto__ param key",
      subjectMethod: "health",
      frame: proto("pk2", "__proto__", "params"),
      zmq: BAD_REQUEST,
      nats: BAD_REQUEST,
    },
    {
      name: "constructor param key",
      subjectMethod: "health",
      frame: proto("pk3", "constructor", "params"),
      zmq: BAD_REQUEST,
      nats: BAD_REQUEST,
    },
    {
      name: "toString param key",
      subjectMethod: "health",
      frame: proto("pk4", "toString", "params"),
      zmq: BAD_REQUEST,
      nats: BAD_REQUEST,
    },
  ];
}

/** Every structured hostile case. */
export function* allHostileCases(): Generator<HostileCase> {
  yield* deepEnvelopeCases();
  yield* deepParamCases();
  yield* hugeCollectionCases();
  yield* hostileParamCases();
  yield* prototypeKeyCases();
}

function describe(value: unknown): string {
  if (typeof value === "string")
    return value.length > 16 ? `string of ${value.length}` : JSON.stringify(value);
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (Array.isArray(value)) return `array of ${value.length}`;
  if (value !== null && typeof value === "object") return `map of ${Object.keys(value).length}`;
  return String(value);
}

/**
 * A valid health request padded to exactly `size` bytes with an envelope key the server ignores
 * (`pad`: byte arrays of at most 4 MiB each, within every structural limit).
 */
export function paddedHealth(id: string, size: number): Uint8Array {
  const prefix = concat([
    Uint8Array.from([0x85]),
    encode({ v: 1, id, method: "health", params: {} }).subarray(1),
    encode("pad"),
  ]);
  const chunkMax = 4 * 1024 * 1024;
  let remaining = size - prefix.length - 1; // after the pad array's header
  const chunks: Uint8Array[] = [];
  while (remaining > 0) {
    // Leave either nothing or a whole chunk (at least its 5-byte header) for the next round.
    const left = remaining - 5 - chunkMax;
    const length = left <= 0 ? remaining - 5 : left < 5 ? chunkMax - 5 : chunkMax;
    if (length < 0) throw new Error(`cannot pad to exactly ${size} bytes`);
    const chunk = new Uint8Array(5 + length);
    chunk.set([0xc6, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff]);
    chunks.push(chunk);
    remaining -= chunk.length;
  }
  if (chunks.length > 15) throw new Error("padding needs more than 15 chunks");
  return concat([prefix, Uint8Array.from([0x90 | chunks.length]), ...chunks]);
}

/** An envelope whose `v` is arrays nested to fill exactly `size` bytes. */
export function nestedFrame(id: string, size: number): Uint8Array {
  const head = rawMap([["id", encode(id)]]);
  const entries = concat([Uint8Array.from([0x82]), head.subarray(1), encode("v")]);
  const depth = size - entries.length - 1;
  return concat([entries, nested("array", depth, LEAVES.int!)]);
}

/** Longest error message a refusal may carry: none quotes client data at length. */
export const MAX_MESSAGE_CHARS = 1024;

/** What a reply says, in one short string for mismatch reports. */
export function outcome(reply: Reply | null): string {
  if (!reply) return "no reply";
  return reply.ok ? "ok" : reply.error!.code;
}

/**
 * The most resident memory a server may reach while fuzzed: the dev Deployment's memory limit
 * (512Mi), which issue 12 saw one hostile frame blow through. V8 collects the hostile garbage
 * lazily, so RSS swings (about 120-420 MiB over repeated runs here) but never climbs past this.
 */
export const MAX_SERVER_RSS_BYTES = 512 * 1024 * 1024;

export interface HostileRun {
  /** One line per case answered otherwise than documented (empty when all is well). */
  readonly mismatches: string[];
  readonly cases: number;
  /** The server's highest RSS, sampled every 10 cases and at the end. */
  readonly peakRss: number;
}

/**
 * Sends every hostile case in turn and checks each reply against the code the path documents, and
 * its message length. Stops early, saying so, if the server process exits.
 */
export async function runHostileCases(
  server: ServerProcess,
  send: (hostile: HostileCase) => Promise<Reply | null>,
  expected: (hostile: HostileCase) => ErrorCode,
): Promise<HostileRun> {
  const mismatches: string[] = [];
  let cases = 0;
  let peakRss = 0;
  for (const hostile of allHostileCases()) {
    if (cases++ % 10 === 0) peakRss = Math.max(peakRss, rssBytes(server.pid));
    const reply = await send(hostile);
    const got = outcome(reply);
    if (got !== expected(hostile))
      mismatches.push(`${hostile.name}: expected ${expected(hostile)}, got ${got}`);
    else if (reply!.error!.message.length > MAX_MESSAGE_CHARS) {
      mismatches.push(`${hostile.name}: a message of ${reply!.error!.message.length} characters`);
    }
    if (!reply && server.child.exitCode !== null) {
      mismatches.push(`the server exited (code ${server.child.exitCode}):\n${server.stderr().slice(-2_000)}`);
      return { mismatches, cases, peakRss };
    }
  }
  return { mismatches, cases, peakRss: Math.max(peakRss, rssBytes(server.pid)) };
}
