/**
 * Runner protocol framing: a 4-byte big-endian length, then MessagePack; frames split or joined
 * across reads come out whole, and a frame above the maximum is refused before it is buffered.
 */
import { encode } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";
import { FrameReader, MAX_FRAME_BYTES } from "../../../runtime/runner/remote/frames.js";

function frame(message: unknown): Buffer {
  const body = encode(message);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.byteLength, 0);
  return Buffer.concat([header, body]);
}

describe("FrameReader", () => {
  it("reads frames split at every byte and frames joined in one chunk", () => {
    const received: unknown[] = [];
    const reader = new FrameReader((message) => received.push(message));
    const bytes = Buffer.concat([frame({ t: "a" }), frame({ t: "b", data: new Uint8Array([1, 2, 3]) })]);
    for (let at = 0; at < bytes.length; at++) reader.push(bytes.subarray(at, at + 1));
    reader.push(Buffer.concat([frame({ t: "c" }), frame({ t: "d" })]));
    expect(received.map((message) => (message as { t: string }).t)).toEqual(["a", "b", "c", "d"]);
    expect([...(received[1] as { data: Uint8Array }).data]).toEqual([1, 2, 3]);
  });

  it("refuses a frame above the maximum from its header alone", () => {
    const reader = new FrameReader(() => undefined);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
    expect(() => reader.push(header)).toThrow(/frame of 4194305 bytes is above the 4194304-byte maximum/);
  });
});
