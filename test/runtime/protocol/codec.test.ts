/**
 * The envelope codec both request paths share: the size is checked before anything reads the frame,
 * the structure is bounded before the decoder runs, nothing throws, and no error message quotes
 * client data at length.
 */
import { decode as unpack, encode } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";
import {
  decodeRequest,
  describeWireValue,
  encodeError,
  encodeResult,
  encodeStreamEvent,
  ID_PEEK_BYTES,
  peekRequestId,
  type DecodeOutcome,
} from "../../../runtime/protocol/codec.js";
import { ERROR_CODES, WIRE_LIMITS, type StreamEvent } from "../../../runtime/protocol/index.js";

const MiB = 1024 * 1024;
const LIMIT = 20 * MiB;

function decode(frame: Uint8Array, maxMessageBytes = LIMIT): DecodeOutcome {
  return decodeRequest(frame, { maxMessageBytes });
}

function refusal(outcome: DecodeOutcome) {
  if (outcome.ok) throw new Error("expected a refusal, got a request");
  return outcome;
}

/** `depth` nested one-element arrays around 0, built as bytes (the encoder would recurse). */
function nestedArrays(depth: number): Uint8Array {
  const bytes = new Uint8Array(depth + 1);
  bytes.fill(0x91, 0, depth);
  return bytes;
}

/** An envelope whose `v` is raw MessagePack bytes spliced in, with the id after it. */
function envelopeWithRawV(rawV: Uint8Array, id = "deep"): Uint8Array {
  const head = Uint8Array.from([0x84, 0xa1, 0x76]); // map of 4, "v"
  const rest = encode({ id, method: "health", params: {} }).subarray(1); // drop its own map header
  const frame = new Uint8Array(head.length + rawV.length + rest.length);
  frame.set(head);
  frame.set(rawV, head.length);
  frame.set(rest, head.length + rawV.length);
  return frame;
}

describe("decodeRequest", () => {
  it("decodes a valid envelope", () => {
    const outcome = decode(encode({ v: 1, id: "a1", method: "health", params: {} }));
    expect(outcome).toEqual({ ok: true, request: { id: "a1", method: "health", params: {} } });
  });

  it("checks the size on the raw frame before decoding, and echoes an id found in its first bytes", () => {
    const frame = encode({ v: 1, id: "big1", method: "spawn", params: { command: "x".repeat(4096) } });
    const atLimit = decode(frame, frame.length);
    expect(atLimit.ok).toBe(true);
    const over = refusal(decode(frame, frame.length - 1));
    expect(over).toMatchObject({ id: "big1", reason: "too-large" });
    expect(over.error.code).toBe(ERROR_CODES.MESSAGE_TOO_LARGE);
    expect(over.error.message).toContain(`at most ${frame.length - 1} (server.maxMessageBytes)`);
    // Garbage past the limit is never parsed: refused by size alone.
    const garbage = new Uint8Array(1025).fill(0xc1);
    expect(refusal(decode(garbage, 1024))).toMatchObject({ id: "", reason: "too-large" });
  });

  it("refuses a 5,000-deep array in v without recursing or quoting it", () => {
    for (const depth of [WIRE_LIMITS.maxDepth, 1_000, 5_000, 1_000_000]) {
      const outcome = refusal(decode(envelopeWithRawV(nestedArrays(depth))));
      expect(outcome.reason).toBe("too-deep");
      expect(outcome.error.code).toBe(ERROR_CODES.BAD_REQUEST);
      expect(outcome.error.message).toContain(
        `deeper than ${WIRE_LIMITS.maxDepth} levels (WIRE_LIMITS.maxDepth)`,
      );
    }
    // One level less than the limit still decodes (the envelope is level 1) and gets UNSUPPORTED_VERSION.
    const allowed = refusal(decode(envelopeWithRawV(nestedArrays(WIRE_LIMITS.maxDepth - 1))));
    expect(allowed.reason).toBe("bad-version");
    expect(allowed.error.message).toMatch(/^protocol version an array of 1 is not supported/);
  });

  it("refuses 10 MiB of nesting in bounded time", () => {
    const frame = envelopeWithRawV(nestedArrays(10 * MiB));
    const started = performance.now();
    const outcome = refusal(decode(frame));
    expect(outcome.reason).toBe("too-deep");
    // It stops at the first byte past the limit: far below a second even on a loaded machine.
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("refuses collections claiming more entries than allowed or than the bytes hold", () => {
    const huge = refusal(decode(Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff])));
    expect(huge.reason).toBe("collection-too-long");
    expect(huge.error.message).toContain(`${0xffffffff} entries exceeds ${WIRE_LIMITS.maxCollectionLength}`);
    const hugeMap = refusal(decode(Uint8Array.from([0xdf, 0x7f, 0xff, 0xff, 0xff])));
    expect(hugeMap.reason).toBe("collection-too-long");
    // Within the cap but longer than the frame: refused before the decoder allocates anything.
    expect(refusal(decode(Uint8Array.from([0xdc, 0x27, 0x10, 0x00]))).reason).toBe("truncated");
  });

  it("refuses too many values in total, however they are spread", () => {
    const rows = Array.from({ length: 11_000 }, () => Array.from({ length: 9 }, () => 0));
    const outcome = refusal(decode(encode({ v: 1, id: "t", method: "health", params: { rows } })));
    expect(outcome.reason).toBe("too-many-values");
    expect(outcome.error.message).toContain(`more than ${WIRE_LIMITS.maxTotalValues} values`);
  });

  it("refuses oversize strings, byte arrays and keys by their headers", () => {
    const str32 = Uint8Array.from([0xdb, 0x00, 0x90, 0x00, 0x01]); // claims 9 MiB + 1
    expect(refusal(decode(envelopeWithRawV(str32))).reason).toBe("string-too-long");
    const bin32 = Uint8Array.from([0xc6, 0x00, 0x90, 0x00, 0x01]);
    expect(refusal(decode(envelopeWithRawV(bin32))).reason).toBe("string-too-long");
    const longKey = encode({ ["k".repeat(WIRE_LIMITS.maxKeyBytes + 1)]: 1, v: 1, id: "k" });
    expect(refusal(decode(longKey)).reason).toBe("key-too-long");
  });

  it("refuses what is not plain MessagePack data: reserved bytes, extensions, non-string keys, trailing bytes", () => {
    expect(refusal(decode(Uint8Array.from([0xc1]))).reason).toBe("invalid-byte");
    expect(refusal(decode(Uint8Array.from([0xd4, 0x01, 0x00]))).reason).toBe("extension-type");
    expect(refusal(decode(Uint8Array.from([0x81, 0x01, 0x02]))).reason).toBe("non-string-key");
    const trailing = Uint8Array.from([...encode({ v: 1, id: "x", method: "health" }), 0x00]);
    expect(refusal(decode(trailing)).reason).toBe("trailing-bytes");
    expect(refusal(decode(new Uint8Array(0))).reason).toBe("truncated");
    expect(refusal(decode(encode([1, 2]))).reason).toBe("not-a-map");
  });

  it("never echoes unbounded client data in a message", () => {
    const huge = "x".repeat(100_000);
    const version = refusal(decode(encode({ v: huge, id: "v1", method: "health" })));
    expect(version.error.code).toBe(ERROR_CODES.UNSUPPORTED_VERSION);
    expect(version.error.message.length).toBeLessThan(200);
    const id = refusal(decode(encode({ v: 1, id: huge, method: "health" })));
    expect(id.reason).toBe("bad-id");
    expect(id.error.message.length).toBeLessThan(200);
    const map = refusal(decode(encode({ v: { a: huge }, id: "m", method: "health" })));
    expect(map.error.message).toMatch(/^protocol version a map is not supported/);
  });

  it("returns an outcome, never throws, for 20,000 random frames", () => {
    let state = 7;
    const random = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 20_000; i++) {
      const frame = Uint8Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256));
      const outcome = decode(frame, 32);
      expect(typeof outcome.ok).toBe("boolean");
    }
  });
});

describe("decodeRequest for JSON bodies (NATS)", () => {
  const json = (text: string) =>
    decodeRequest(new TextEncoder().encode(text), { maxMessageBytes: LIMIT, encoding: "json" });

  it("decodes a JSON envelope", () => {
    expect(json('{"v":1,"id":"j","method":"health","params":{}}')).toMatchObject({
      ok: true,
      request: { id: "j" },
    });
  });

  it("refuses deep nesting, long collections and bad JSON without quoting it", () => {
    expect(refusal(json(`{"v":${"[".repeat(5_000)}${"]".repeat(5_000)},"id":"d"}`)).reason).toBe("too-deep");
    const long = `{"v":1,"id":"c","params":{"a":[${Array.from({ length: 20_001 }, () => "0").join(",")}]}}`;
    expect(refusal(json(long)).reason).toBe("collection-too-long");
    const bad = refusal(json(`{"v":1,"id":"j", ${"y".repeat(500)}}`));
    expect(bad.reason).toBe("not-json");
    expect(bad.error.message).not.toContain("yyyy");
    expect(refusal(json(`{"${"k".repeat(2_000)}":1}`)).reason).toBe("key-too-long");
  });
});

describe("peekRequestId", () => {
  it(`finds a top-level id within the first ${ID_PEEK_BYTES} bytes only`, () => {
    expect(peekRequestId(encode({ v: 1, id: "near", method: "spawn" }))).toBe("near");
    expect(peekRequestId(encode({ pad: "p".repeat(ID_PEEK_BYTES), id: "far" }))).toBe("");
    expect(peekRequestId(encode({ v: 1, id: 42 }))).toBe("");
    expect(peekRequestId(Uint8Array.from([0x81, 0xc1]))).toBe("");
  });
});

describe("reply encoding", () => {
  it("carries bytes as base64 in JSON replies", () => {
    const text = new TextDecoder().decode(encodeResult("r", { data: Uint8Array.from([1, 2, 3]) }, "json"));
    expect(JSON.parse(text)).toEqual({ v: 1, id: "r", ok: true, result: { data: "AQID" } });
  });

  it("sends only code, message and retryable in an error", () => {
    const body = { code: ERROR_CODES.INTERNAL, message: "internal server error", retryable: true };
    const text = new TextDecoder().decode(encodeError("e", { ...body, stack: "x" } as typeof body, "json"));
    expect(JSON.parse(text)).toEqual({ v: 1, id: "e", ok: false, error: body });
  });
});

describe("describeWireValue", () => {
  it("describes any value in a few words", () => {
    expect(describeWireValue("x".repeat(1_000))).toBe(`"${"x".repeat(32)}..."`);
    expect(describeWireValue([1, 2, 3])).toBe("an array of 3");
    expect(describeWireValue(new Uint8Array(9))).toBe("9 bytes");
    expect(describeWireValue({ a: 1 })).toBe("a map");
    expect(describeWireValue(2)).toBe("2");
    expect(describeWireValue(null)).toBe("null");
  });
});

describe("encodeStreamEvent", () => {
  it("encodes output events of every bin size so they decode to the event", () => {
    for (const size of [0, 1, 255, 256, 65_535, 65_536, 200_000]) {
      const data = new Uint8Array(size).map((_, i) => i % 251);
      const event = {
        kind: "output",
        agentId: "a-1",
        stream: "stderr",
        offset: 12_345_678_901,
        data,
      } as const;
      const frame = encodeStreamEvent(event);
      const decoded = unpack(frame) as { data: Uint8Array };
      expect({ ...decoded, data: [...decoded.data] }, `size ${size}`).toEqual({ ...event, data: [...data] });
      expect(frame.byteLength).toBe(encode(event).byteLength);
    }
  });

  it("encodes status events as they are", () => {
    const event = { kind: "status", agent: { id: "a-1" }, previous: null } as unknown as StreamEvent;
    expect(unpack(encodeStreamEvent(event))).toEqual(unpack(encode(event)));
  });
});
