/**
 * One output stream of one agent: a byte ring capped at `capBytes`, addressed by absolute offsets.
 *
 * Absolute offsets count every byte the agent ever wrote, including the ones dropped by the cap,
 * so a reader can resume from `nextOffset` and see exactly which bytes it missed.
 * Memory grows with the output actually kept, never pre-allocated: 1,000 quiet agents cost nothing here.
 */

/** Past this many stored chunks, they are merged into one buffer so tiny writes do not pile up. */
const MAX_CHUNKS = 64;

export interface OutputSlice {
  readonly data: Buffer;
  /** Absolute offset of the first byte of `data`. */
  readonly offset: number;
  /** Absolute offset just past the last byte of `data`. */
  readonly nextOffset: number;
  /** Bytes dropped by the cap so far; offsets below this are gone. */
  readonly dropped: number;
}

export class OutputBuffer {
  private chunks: Buffer[] = [];
  private keptBytes = 0;
  private droppedBytes = 0;

  constructor(private readonly capBytes: number) {
    if (!Number.isInteger(capBytes) || capBytes < 1) {
      throw new RangeError(`output cap must be a positive integer of bytes, got ${capBytes}`);
    }
  }

  /** Total bytes ever written, dropped ones included: the offset the next byte will get. */
  get total(): number {
    return this.droppedBytes + this.keptBytes;
  }

  /** Bytes dropped from the front by the cap. Equal to the offset of the oldest kept byte. */
  get dropped(): number {
    return this.droppedBytes;
  }

  /** Appends a chunk and drops the oldest bytes beyond the cap. Returns how many bytes this call dropped. */
  append(chunk: Buffer): number {
    if (chunk.length === 0) return 0;
    // A chunk larger than the cap keeps only its tail; copy so the big source buffer can be freed.
    const kept =
      chunk.length > this.capBytes ? Buffer.from(chunk.subarray(chunk.length - this.capBytes)) : chunk;
    const droppedHere = chunk.length - kept.length;
    this.droppedBytes += droppedHere;
    this.chunks.push(kept);
    this.keptBytes += kept.length;
    const trimmed = this.trimToCap();
    if (this.chunks.length > MAX_CHUNKS) this.chunks = [Buffer.concat(this.chunks, this.keptBytes)];
    return droppedHere + trimmed;
  }

  /**
   * Reads up to `limit` bytes starting at absolute `offset`.
   * An offset below `dropped` starts at the oldest kept byte (see the returned `offset`);
   * an offset past the end returns no data at the end.
   */
  read(offset: number, limit: number): OutputSlice {
    const start = Math.min(Math.max(offset, this.droppedBytes), this.total);
    const end = Math.min(start + Math.max(0, limit), this.total);
    const parts: Buffer[] = [];
    let position = this.droppedBytes;
    for (const chunk of this.chunks) {
      const chunkEnd = position + chunk.length;
      if (chunkEnd > start && position < end) {
        parts.push(chunk.subarray(Math.max(0, start - position), Math.min(chunk.length, end - position)));
      }
      if (chunkEnd >= end) break;
      position = chunkEnd;
    }
    const data = parts.length === 1 ? Buffer.from(parts[0] as Buffer) : Buffer.concat(parts, end - start);
    return { data, offset: start, nextOffset: end, dropped: this.droppedBytes };
  }

  /** Reads the last `tail` bytes (or fewer, if fewer are kept), at most `limit` of them from the start. */
  readTail(tail: number, limit: number): OutputSlice {
    return this.read(Math.max(this.droppedBytes, this.total - tail), limit);
  }

  private trimToCap(): number {
    let trimmed = 0;
    while (this.keptBytes > this.capBytes) {
      const first = this.chunks[0] as Buffer;
      const excess = this.keptBytes - this.capBytes;
      if (first.length <= excess) {
        this.chunks.shift();
        this.keptBytes -= first.length;
        trimmed += first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.keptBytes -= excess;
        trimmed += excess;
      }
    }
    this.droppedBytes += trimmed;
    return trimmed;
  }
}
