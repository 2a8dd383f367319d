/**
 * Runner protocol framing: a 4-byte big-endian length, then MessagePack; frames split or joined
 * across reads come out whole, and a frame above the maximum is refused before it is buffered.
 */
import { encode } from "@msgpack/msgpack";
import { once } from "node:events";
import { createServer, connect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import {
  FrameReader,
  FrameWriter,
  MAX_FRAME_BYTES,
  WRITE_BUFFER_BYTES,
} from "../../../runtime/runner/remote/frames.js";

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

  it("hands raw bytes that follow a frame over as views of the chunks that carried them, not copies", () => {
    const received: Array<{ t: string; parts?: Buffer[] }> = [];
    const reader = new FrameReader((message) => received.push(message as { t: string; parts?: Buffer[] }));
    const payload = Buffer.alloc(200_000, 7);
    payload.write("start", 0);
    payload.write("end", payload.length - 3);
    const chunks = [
      Buffer.concat([frame({ t: "out", raw: payload.length }), payload.subarray(0, 50_000)]),
      Buffer.from(payload.subarray(50_000, 150_000)),
      Buffer.concat([payload.subarray(150_000), frame({ t: "after" }), frame({ t: "none", raw: 0 })]),
    ];
    for (const chunk of chunks) reader.push(chunk);
    expect(received.map((message) => message.t)).toEqual(["out", "after", "none"]);
    const parts = received[0]!.parts!;
    expect(Buffer.concat(parts).equals(payload)).toBe(true);
    // The middle chunk is handed over whole: the same memory, not a copy.
    expect(parts[1]!.buffer).toBe(chunks[1]!.buffer);
    expect(received[2]!.parts).toEqual([]);
  });

  it("reads raw payloads split at every byte", () => {
    const received: Array<{ parts?: Buffer[] }> = [];
    const reader = new FrameReader((message) => received.push(message as { parts?: Buffer[] }));
    const bytes = Buffer.concat([frame({ t: "out", raw: 5 }), Buffer.from("hello"), frame({ t: "x" })]);
    for (let at = 0; at < bytes.length; at++) reader.push(bytes.subarray(at, at + 1));
    expect(received).toHaveLength(2);
    expect(Buffer.concat(received[0]!.parts!).toString()).toBe("hello");
  });

  it("refuses a raw payload above the maximum, or a raw count that is not a byte count", () => {
    expect(() =>
      new FrameReader(() => undefined).push(frame({ t: "out", raw: MAX_FRAME_BYTES + 1 })),
    ).toThrow(/raw payload of 4194305 bytes is above the 4194304-byte maximum/);
    expect(() => new FrameReader(() => undefined).push(frame({ t: "out", raw: -1 }))).toThrow(
      /raw count -1 is not a byte count/,
    );
  });

  it("refuses a frame above the maximum from its header alone", () => {
    const reader = new FrameReader(() => undefined);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
    expect(() => reader.push(header)).toThrow(/frame of 4194305 bytes is above the 4194304-byte maximum/);
  });
});

describe("FrameWriter", () => {
  it("reports full only once WRITE_BUFFER_BYTES are queued, and 'drain' follows when the peer reads", async () => {
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const accepted = once(server, "connection") as Promise<[Socket]>;
    const { port } = server.address() as { port: number };
    const sender = connect(port, "127.0.0.1");
    await once(sender, "connect");
    const [receiver] = await accepted;
    receiver.pause();
    try {
      const writer = new FrameWriter(sender);
      const chunk = new Uint8Array(64 * 1024);
      let frames = 0;
      while (writer.sendRaw({ t: "out", id: "a", s: 0 }, [chunk])) frames++;
      // Far beyond Node's 16 KiB mark: a 64 KiB chunk no longer means a pause per chunk.
      expect(sender.writableLength).toBeGreaterThanOrEqual(WRITE_BUFFER_BYTES);
      expect(frames).toBeGreaterThan(4);
      const drained = once(sender, "drain");
      receiver.resume();
      await drained;
      expect(sender.writableLength).toBe(0);
    } finally {
      sender.destroy();
      receiver.destroy();
      server.close();
    }
  });
});
