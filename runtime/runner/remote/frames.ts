/**
 * Framing for the runner protocol: each message is a 4-byte big-endian length, then that many bytes
 * of MessagePack. A message with a `raw` field (a byte count) is followed by that many raw bytes,
 * which the reader hands over as `parts`, views of the socket reads that carried them: bulk output
 * crosses the hop without being encoded, copied or reassembled. The reader refuses a frame or raw
 * payload above MAX_FRAME_BYTES instead of buffering it.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import type { Socket } from "node:net";

/** No frame or raw payload is larger: output is coalesced to COALESCE_BYTES, writes are split at WRITE_CHUNK_BYTES. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** Output chunks of one stream read in one turn are sent as one message of at most this size. */
export const COALESCE_BYTES = 1024 * 1024;
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
    this.socket.write(this.frame(message));
    return this.socket.writableLength < WRITE_BUFFER_BYTES;
  }

  /**
   * Sends `fields` with `raw` set to the parts' total length, then the parts as they are (no copy:
   * they must not change once handed over). The reader delivers them as `parts`. Same return as send().
   */
  sendRaw(fields: Record<string, unknown>, parts: readonly Uint8Array[]): boolean {
    if (this.socket.destroyed) return false;
    let raw = 0;
    for (const part of parts) raw += part.byteLength;
    this.socket.cork();
    this.socket.write(this.frame({ ...fields, raw }));
    for (const part of parts) this.socket.write(part);
    this.socket.uncork();
    return this.socket.writableLength < WRITE_BUFFER_BYTES;
  }

  private frame(message: unknown): Buffer {
    const body = this.encoder.encodeSharedRef(message);
    const frame = Buffer.allocUnsafe(HEADER_BYTES + body.byteLength);
    frame.writeUInt32BE(body.byteLength, 0);
    frame.set(body, HEADER_BYTES);
    return frame;
  }
}

/** A message that announced raw bytes, while they arrive. */
interface RawPending {
  readonly message: Record<string, unknown>;
  readonly parts: Buffer[];
  remaining: number;
}

/**
 * Feeds socket chunks in; calls `onMessage` per complete message. Throws on a frame or raw payload
 * above the maximum. Chunks are kept as they arrive until a frame is whole: a frame inside one chunk
 * is decoded in place, one spread over several is copied once, and raw bytes are never copied (byte
 * fields and parts may be views of a socket read; copy what is kept long).
 */
export class FrameReader {
  private readonly decoder = new Decoder();
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private raw: RawPending | null = null;

  constructor(private readonly onMessage: (message: unknown) => void) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.raw) {
        if (this.buffered === 0) return;
        this.takeRaw(this.raw);
        continue;
      }
      if (this.buffered < HEADER_BYTES) return;
      const length = this.peekLength();
      refuseAbove(length, "frame");
      if (this.buffered < HEADER_BYTES + length) return;
      const frame = this.take(HEADER_BYTES + length);
      const message = this.decoder.decode(frame.subarray(HEADER_BYTES)) as Record<string, unknown>;
      const raw = typeof message === "object" && message !== null ? message.raw : undefined;
      if (typeof raw !== "number") {
        this.onMessage(message);
        continue;
      }
      if (!Number.isInteger(raw) || raw < 0)
        throw new RangeError(`runner protocol raw count ${raw} is not a byte count`);
      refuseAbove(raw, "raw payload");
      this.raw = { message, parts: [], remaining: raw };
      if (raw === 0) this.takeRaw(this.raw);
    }
  }

  /** Moves buffered chunks (views, not copies) into the pending raw payload; delivers it once whole. */
  private takeRaw(pending: RawPending): void {
    while (pending.remaining > 0 && this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const used = Math.min(first.length, pending.remaining);
      pending.parts.push(used === first.length ? first : first.subarray(0, used));
      if (used === first.length) this.chunks.shift();
      else this.chunks[0] = first.subarray(used);
      this.buffered -= used;
      pending.remaining -= used;
    }
    if (pending.remaining > 0) return;
    this.raw = null;
    this.onMessage({ ...pending.message, parts: pending.parts });
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= HEADER_BYTES) return first.readUInt32BE(0);
    return this.copyOut(HEADER_BYTES, false).readUInt32BE(0);
  }

  /** Removes the first `bytes` buffered bytes: a view when they lie in one chunk, else one copy. */
  private take(bytes: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length < bytes) return this.copyOut(bytes, true);
    if (first.length === bytes) this.chunks.shift();
    else this.chunks[0] = first.subarray(bytes);
    this.buffered -= bytes;
    return first.subarray(0, bytes);
  }

  private copyOut(bytes: number, consume: boolean): Buffer {
    const out = Buffer.allocUnsafe(bytes);
    let filled = 0;
    let index = 0;
    while (filled < bytes) {
      const chunk = this.chunks[index]!;
      const used = Math.min(chunk.length, bytes - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (!consume) index++;
      else if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    if (consume) this.buffered -= bytes;
    return out;
  }
}

function refuseAbove(bytes: number, what: string): void {
  if (bytes <= MAX_FRAME_BYTES) return;
  throw new RangeError(
    `runner protocol ${what} of ${bytes} bytes is above the ${MAX_FRAME_BYTES}-byte maximum; the peer is not a Zeroplane runner or server of this version`,
  );
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
