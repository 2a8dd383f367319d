/**
 * One output stream of one agent: a byte ring capped at `capBytes`, addressed by absolute offsets.
 *
 * Absolute offsets count every byte the agent ever wrote, including the ones dropped by the cap,
 * so a reader can resume from `nextOffset` and see exactly which bytes it missed.
 * Memory grows with the output actually kept, never pre-allocated: 1,000 quiet agents cost nothing here.
 * `heldBytes` is the memory the kept bytes pin (a trimmed chunk pins its whole allocation until it is
 * copied), which is what the server's memory budget is charged (memory-budget.ts).
 */

/**
 * Past this many stored chunks, the two smallest neighbours are merged while they are together at
 * most MERGE_LIMIT_BYTES, so tiny writes do not pile up. Merging the smallest pair (rather than
 * everything kept) copies a byte a logarithmic number of times; leaving pairs above the limit alone
 * means bulk output (64 KiB pipe reads) is never copied here at all. So at most about
 * max(MAX_CHUNKS, 2 × kept / MERGE_LIMIT_BYTES + 1) + MAX_CHUNKS chunks are stored.
 */
export const MAX_CHUNKS = 64;
export const MERGE_LIMIT_BYTES = 64 * 1024;
/**
 * Most write times kept per stream (`logs --since`, `--timestamps`): past it every other one goes, so
 * times get coarser (a byte gets the time of an earlier write) but memory stays at a few KiB.
 */
export const MAX_TIME_MARKS = 256;

/** When the bytes from `offset` on were written (milliseconds since the epoch). */
export type TimeMark = readonly [offset: number, timeMs: number];

export interface OutputSlice {
  readonly data: Buffer;
  /** Absolute offset of the first byte of `data`. */
  readonly offset: number;
  /** Absolute offset just past the last byte of `data`. */
  readonly nextOffset: number;
  /** Bytes dropped by the cap so far; offsets below this are gone. */
  readonly dropped: number;
  /** Write times of the bytes in `data`: the first covers `offset`. */
  readonly times: readonly TimeMark[];
}

export class OutputBuffer {
  private chunks: Buffer[] = [];
  /** Bytes of memory each chunk pins: its length, or its original length once trimmed in place. */
  private chunkHeld: number[] = [];
  private keptBytes = 0;
  private held = 0;
  private droppedBytes = 0;
  /** The chunk count at which to look for a pair to merge again (see append). */
  private scanAt = 0;
  /** Write times, by rising offset; the first covers the oldest kept byte. */
  private marks: Array<[number, number]> = [];

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

  /** Bytes of output still readable. */
  get kept(): number {
    return this.keptBytes;
  }

  /** Bytes of memory the kept output pins (at least `kept`). */
  get heldBytes(): number {
    return this.held;
  }

  /** Appends a chunk and drops the oldest bytes beyond the cap. Returns how many bytes this call dropped. */
  append(chunk: Buffer, now = Date.now()): number {
    if (chunk.length === 0) return 0;
    this.mark(this.total, now);
    // A chunk larger than the cap keeps only its tail; copy so the big source buffer can be freed.
    const kept =
      chunk.length > this.capBytes ? Buffer.from(chunk.subarray(chunk.length - this.capBytes)) : chunk;
    const droppedHere = chunk.length - kept.length;
    this.droppedBytes += droppedHere;
    this.chunks.push(kept);
    this.chunkHeld.push(kept.length);
    this.keptBytes += kept.length;
    this.held += kept.length;
    const trimmed = this.trimTo(this.capBytes);
    if (this.chunks.length > MAX_CHUNKS && this.chunks.length >= this.scanAt && !this.mergeSmallestPair()) {
      // Nothing small enough to merge (bulk output): look again after MAX_CHUNKS more chunks, not on
      // every append (scanning a 64 MiB ring of 64 KiB chunks per chunk was a tenth of the server's time).
      this.scanAt = this.chunks.length + MAX_CHUNKS;
    }
    return droppedHere + trimmed;
  }

  /** The number of stored chunks (see MAX_CHUNKS for the bound). */
  get chunkCount(): number {
    return this.chunks.length;
  }

  /**
   * Replaces the two adjacent chunks with the smallest total among the newest MAX_CHUNKS + 1 by one
   * copy of both, if that is small. Returns whether it merged. Only appends make new small pairs, and
   * they are at the tail: older chunks were merged while they were there, so a ring of a thousand bulk
   * chunks is not scanned whole per append.
   */
  private mergeSmallestPair(): boolean {
    let at = 0;
    let smallest = Infinity;
    for (let i = Math.max(0, this.chunks.length - MAX_CHUNKS - 1); i + 1 < this.chunks.length; i++) {
      const size = this.chunks[i]!.length + this.chunks[i + 1]!.length;
      if (size < smallest) {
        smallest = size;
        at = i;
      }
    }
    if (smallest > MERGE_LIMIT_BYTES) return false;
    const merged = Buffer.concat([this.chunks[at]!, this.chunks[at + 1]!], smallest);
    this.held += merged.length - this.chunkHeld[at]! - this.chunkHeld[at + 1]!;
    this.chunks.splice(at, 2, merged);
    this.chunkHeld.splice(at, 2, merged.length);
    return true;
  }

  /**
   * Drops the oldest bytes until at most `keepBytes` are kept. With `release` (the memory budget's
   * eviction) a chunk trimmed in place is always copied, so `heldBytes` drops to `kept` at once.
   * Returns how many bytes this dropped; they count in `dropped` like bytes dropped by the cap.
   */
  trimTo(keepBytes: number, release = false): number {
    let trimmed = 0;
    while (this.keptBytes > keepBytes) {
      const first = this.chunks[0] as Buffer;
      const excess = this.keptBytes - keepBytes;
      if (first.length <= excess) {
        this.chunks.shift();
        this.held -= this.chunkHeld.shift() as number;
        this.keptBytes -= first.length;
        trimmed += first.length;
      } else {
        const rest = first.subarray(excess);
        const pinned = this.chunkHeld[0] as number;
        // Once less than half of an allocation is still wanted, copy it so the rest can be freed.
        const copy = release || rest.length * 2 < pinned;
        this.chunks[0] = copy ? Buffer.from(rest) : rest;
        if (copy) {
          this.held += rest.length - pinned;
          this.chunkHeld[0] = rest.length;
        }
        this.keptBytes -= excess;
        trimmed += excess;
      }
    }
    this.droppedBytes += trimmed;
    // Marks wholly before the oldest kept byte are of no use: the next one starts at or before it.
    while (this.marks.length > 1 && this.marks[1]![0] <= this.droppedBytes) this.marks.shift();
    return trimmed;
  }

  private mark(offset: number, timeMs: number): void {
    const last = this.marks[this.marks.length - 1];
    if (last && last[1] >= timeMs) return; // The same millisecond: the earlier mark covers it.
    this.marks.push([offset, timeMs]);
    if (this.marks.length > MAX_TIME_MARKS) this.marks = this.marks.filter((_, i) => i % 2 === 0);
  }

  /** The offset of the first kept byte written at or after `timeMs` (the end when none). */
  offsetSince(timeMs: number): number {
    const mark = this.marks.find(([, time]) => time >= timeMs);
    return mark ? Math.max(mark[0], this.droppedBytes) : this.total;
  }

  /** The write times covering [start, end). */
  private timesBetween(start: number, end: number): TimeMark[] {
    const times: TimeMark[] = [];
    for (const [offset, time] of this.marks) {
      if (offset >= end && times.length > 0) break;
      if (offset <= start) times[0] = [start, time];
      else times.push([offset, time]);
    }
    return start < end ? times : [];
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
    return {
      data,
      offset: start,
      nextOffset: end,
      dropped: this.droppedBytes,
      times: this.timesBetween(start, end),
    };
  }

  /** Reads the last `tail` bytes (or fewer, if fewer are kept), at most `limit` of them from the start. */
  readTail(tail: number, limit: number): OutputSlice {
    return this.read(Math.max(this.droppedBytes, this.total - tail), limit);
  }
}
