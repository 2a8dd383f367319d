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
      while (writer.send({ t: "out", id: "a", s: 0, data: chunk })) frames++;
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
