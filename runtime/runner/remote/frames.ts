/**
 * Framing for the runner protocol: each message is a 4-byte big-endian length, then that many bytes
 * of MessagePack. The reader refuses a frame above MAX_FRAME_BYTES instead of buffering it.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import type { Socket } from "node:net";

/** No message is larger: output chunks are at most a pipe read (64 KiB), writes are split at WRITE_CHUNK_BYTES. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** Stdin data is sent in pieces of at most this size. */
export const WRITE_CHUNK_BYTES = 1024 * 1024;

const HEADER_BYTES = 4;

/**
 * Bytes the writer lets queue in the socket before it reports "full". Node's own mark (16 KiB) is
 * below one output chunk (64 KiB), which turned every chunk into a pause-until-drain round trip.
 */
export const WRITE_BUFFER_BYTES = 1024 * 1024;

export class FrameWriter {
  private readonly encoder = new Encoder();

  constructor(private readonly socket: Socket) {}

  /**
   * Sends one message; returns false when the socket holds WRITE_BUFFER_BYTES or more unsent (wait
   * for "drain" before more bulk: that is above Node's mark, so "drain" follows).
   */
  send(message: unknown): boolean {
    if (this.socket.destroyed) return false;
    const body = this.encoder.encode(message);
    const frame = Buffer.allocUnsafe(HEADER_BYTES + body.byteLength);
    frame.writeUInt32BE(body.byteLength, 0);
    frame.set(body, HEADER_BYTES);
    this.socket.write(frame);
    return this.socket.writableLength < WRITE_BUFFER_BYTES;
  }
}

/** Feeds socket chunks in; calls `onMessage` per complete frame. Throws on a frame above the maximum. */
export class FrameReader {
  private readonly decoder = new Decoder();
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onMessage: (message: unknown) => void) {}

  push(chunk: Buffer): void {
    let buffer = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (buffer.length >= HEADER_BYTES) {
      const length = buffer.readUInt32BE(0);
      if (length > MAX_FRAME_BYTES) {
        throw new RangeError(
          `runner protocol frame of ${length} bytes is above the ${MAX_FRAME_BYTES}-byte maximum; the peer is not a Zeroplane runner or server of this version`,
        );
      }
      if (buffer.length < HEADER_BYTES + length) break;
      const body = buffer.subarray(HEADER_BYTES, HEADER_BYTES + length);
      buffer = buffer.subarray(HEADER_BYTES + length);
      this.onMessage(this.decoder.decode(body));
    }
    // Copy the remainder so a small tail does not pin a large chunk.
    this.pending = buffer.length === 0 ? Buffer.alloc(0) : Buffer.from(buffer);
  }
}

/** Reads messages from `socket` into `onMessage`; a protocol violation destroys the socket with the error. */
export function readFrames(socket: Socket, onMessage: (message: unknown) => void): void {
  const reader = new FrameReader(onMessage);
  socket.on("data", (chunk: Buffer) => {
    try {
      reader.push(chunk);
    } catch (error) {
      socket.destroy(error as Error);
    }
  });
}
