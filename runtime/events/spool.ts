/**
 * A bounded, crash-safe, on-disk FIFO of records: the queue every lifecycle event passes through
 * on its way to JetStream.
 *
 * Layout of the spool directory:
 *   `<20-digit position>.seg`  append-only segment files, named by the global byte position of their first byte
 *   `committed`                the global position below which every record is published (or dropped)
 *
 * A record on disk is `[u32 LE body length][u32 LE crc32 of body][body]`. Positions are global byte offsets
 * that never repeat, so a segment's name plus an offset in it is a position.
 *
 * Durability (fsync policy):
 * - appends are buffered for at most one event-loop turn, then written with one write() call: a crash of the
 *   process (SIGKILL, OOM) loses nothing that reached write();
 * - the active segment is fdatasync'ed at most once per `syncIntervalMs` (default 1 s) while it has unsynced
 *   data, on rotation, and on close: a crash of the machine loses at most that interval;
 * - the committed position is written at most every `commitIntervalMs` (temp file + rename, atomic). If it is
 *   lost, the records after the older position are published again and JetStream drops them as duplicates
 *   (same Nats-Msg-Id within the stream's duplicate window);
 * - on open, a torn or corrupt tail (bad length or crc) is truncated away.
 *
 * A failing disk (ENOSPC, EIO, EDQUOT…) never throws out of a timer or the publish path: records that
 * could not be written stay in memory in order (at most `pendingMaxBytes`; past that `append` throws
 * SpoolUnavailableError and the caller counts the event as dropped), the write is retried every
 * `retryIntervalMs`, and `writeFailure()` reports the problem until a write succeeds. A partly written
 * batch is continued where it stopped, so the file stays one valid sequence of records.
 */
import {
  closeSync,
  statfsSync,
  existsSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writevSync,
} from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";

const HEADER_BYTES = 8;
const SEGMENT_SUFFIX = ".seg";
const COMMITTED_FILE = "committed";
const READ_CHUNK_BYTES = 256 * 1024;
const CACHE_MAX_BYTES = 4 * 1024 * 1024;
/** How long a free-space reading is reused: one statfs per second at most, not one per spawn. */
const STATFS_MAX_AGE_MS = 1000;

export interface SpoolOptions {
  /** Directory for segments and the committed position; created if missing. */
  readonly dir: string;
  /** Largest size of the uncommitted records, framing included. */
  readonly maxBytes: number;
  /** Rotate to a new segment past this size. @default maxBytes / 8, between 64 KiB and 16 MiB */
  readonly segmentBytes?: number;
  /** @default 1000 */
  readonly syncIntervalMs?: number;
  /** @default 200 */
  readonly commitIntervalMs?: number;
  /** Called when a corrupt tail is cut off while opening. */
  readonly onCorruption?: (message: string) => void;
  /** Records kept in memory while the disk fails; past this, appends throw. @default CACHE_MAX_BYTES (4 MiB) */
  readonly pendingMaxBytes?: number;
  /** How often a failed write is retried. @default 1000 */
  readonly retryIntervalMs?: number;
  /** Called on every failed write attempt (the first and each retry). */
  readonly onWriteError?: (error: NodeJS.ErrnoException) => void;
  /** Called once writes succeed again after a failure. */
  readonly onWriteRecovered?: () => void;
}

/** Why the spool cannot be written right now. */
export interface SpoolWriteFailure {
  /** The errno code, such as ENOSPC or EIO. */
  readonly code: string;
  readonly message: string;
  /** When the first failed write of this episode happened (ms since the epoch). */
  readonly since: number;
}

/** Thrown by `append` while the disk fails and the in-memory backlog is full. */
export class SpoolUnavailableError extends Error {
  constructor(
    readonly dir: string,
    readonly failure: SpoolWriteFailure,
  ) {
    super(
      `the event spool at ${dir} cannot be written (${failure.code}) and its in-memory backlog is full; ` +
        "free space on its filesystem",
    );
    this.name = "SpoolUnavailableError";
  }
}

/** One record read back from the spool. `start`/`end` are its global positions (framing included). */
export interface SpooledRecord {
  readonly start: number;
  readonly end: number;
  readonly body: Buffer;
}

interface Segment {
  readonly start: number;
  readonly path: string;
  /** Bytes of valid records in the file (including buffered bytes for the active segment). */
  size: number;
}

export class Spool {
  private readonly segments: Segment[] = [];
  private readonly segmentBytes: number;
  private readonly syncIntervalMs: number;
  private readonly commitIntervalMs: number;
  private readonly pendingMaxBytes: number;
  private readonly retryIntervalMs: number;
  private writeFd: number;
  private failure: SpoolWriteFailure | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private statfsReading: {
    readonly at: number;
    readonly freeBytes: number | null;
    /** `appended` when it was read. */
    readonly appended: number;
  } | null = null;
  /** Bytes ever appended by this process, for estimating free space between statfs readings. */
  private appended = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private committedPos: number;
  private committedWrittenPos: number;
  private readPos: number;
  private events = 0;
  private bytes = 0;
  private unsynced = false;
  private syncing = false;
  private syncTimer: NodeJS.Timeout | null = null;
  private commitTimer: NodeJS.Timeout | null = null;
  private readFd: { readonly segment: Segment; readonly fd: number } | null = null;
  private closed = false;
  /** Recently appended records, consecutive and in order, so reads rarely touch the disk. */
  private cache: SpooledRecord[] = [];
  private cacheHead = 0;
  private cacheBytes = 0;

  /** Opens (or creates) the spool, recovering what an earlier process left. */
  constructor(private readonly options: SpoolOptions) {
    this.segmentBytes =
      options.segmentBytes ??
      Math.min(16 * 1024 * 1024, Math.max(64 * 1024, Math.floor(options.maxBytes / 8)));
    this.syncIntervalMs = options.syncIntervalMs ?? 1000;
    this.commitIntervalMs = options.commitIntervalMs ?? 200;
    this.pendingMaxBytes = options.pendingMaxBytes ?? CACHE_MAX_BYTES;
    this.retryIntervalMs = options.retryIntervalMs ?? 1000;
    mkdirSync(options.dir, { recursive: true });
    const committedPath = join(options.dir, COMMITTED_FILE);
    this.committedPos = existsSync(committedPath) ? parseCommitted(readFileSync(committedPath, "utf8")) : 0;
    this.committedWrittenPos = this.committedPos;
    for (const name of readdirSync(options.dir).sort()) {
      if (!name.endsWith(SEGMENT_SUFFIX)) continue;
      const start = Number(name.slice(0, -SEGMENT_SUFFIX.length));
      if (!Number.isSafeInteger(start)) continue;
      this.segments.push({ start, path: join(options.dir, name), size: 0 });
    }
    this.segments.sort((a, b) => a.start - b.start);
    this.recover();
    const last = this.segments.at(-1);
    if (!last || last.size >= this.segmentBytes) {
      this.writeFd = this.createSegment(last ? last.start + last.size : this.committedPos);
    } else {
      this.writeFd = openSync(last.path, "a");
    }
    this.readPos = this.committedPos;
    this.deleteCommittedSegments();
  }

  /** Records not yet committed (published or dropped). */
  depthEvents(): number {
    return this.events;
  }

  /** Bytes of records not yet committed, framing included. */
  depthBytes(): number {
    return this.bytes;
  }

  /** The global position after the last appended record. */
  endPosition(): number {
    const last = this.segments.at(-1);
    return last ? last.start + last.size : this.committedPos;
  }

  /** The global position below which every record is committed (published or dropped). */
  committedPosition(): number {
    return this.committedPos;
  }

  /** The configured bound. */
  maxBytes(): number {
    return this.options.maxBytes;
  }

  /** The spool directory. */
  get dir(): string {
    return this.options.dir;
  }

  /** Why writes are failing, or null while they succeed. */
  writeFailure(): SpoolWriteFailure | null {
    return this.failure;
  }

  /** Bytes of records accepted but not yet written to disk. */
  unwrittenBytes(): number {
    return this.pendingBytes;
  }

  /**
   * Bytes an unprivileged writer can still use on the spool's filesystem, or null if statfs fails.
   * statfs is read at most once a second; in between, the bytes appended since are subtracted.
   */
  freeDiskBytes(): number | null {
    const now = Date.now();
    const reading = this.statfsReading;
    if (reading && now - reading.at < STATFS_MAX_AGE_MS) {
      return reading.freeBytes === null
        ? null
        : Math.max(0, reading.freeBytes - (this.appended - reading.appended));
    }
    let freeBytes: number | null;
    try {
      const stats = statfsSync(this.options.dir);
      freeBytes = stats.bavail * stats.bsize;
    } catch {
      freeBytes = null;
    }
    this.statfsReading = { at: now, freeBytes, appended: this.appended };
    return freeBytes;
  }

  /** Bytes a record with this body takes in the spool. */
  static sizeOf(bodyBytes: number): number {
    return HEADER_BYTES + bodyBytes;
  }

  /**
   * Appends one record. The caller enforces the bound (see depthBytes and dropOldest).
   * Throws SpoolUnavailableError while the disk fails and `pendingMaxBytes` are already waiting.
   */
  append(body: Uint8Array): void {
    if (this.closed) throw new Error("spool is closed");
    if (this.failure && this.pendingBytes + HEADER_BYTES + body.byteLength > this.pendingMaxBytes) {
      throw new SpoolUnavailableError(this.options.dir, this.failure);
    }
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header.writeUInt32LE(body.byteLength, 0);
    header.writeUInt32LE(crc32(body), 4);
    let active = this.segments.at(-1)!;
    // While the disk fails, only the retry timer touches it.
    if (active.size >= this.segmentBytes && !this.failure) {
      this.rotate();
      active = this.segments.at(-1)!;
    }
    const bodyBuffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    this.pending.push(header, bodyBuffer);
    this.pendingBytes += HEADER_BYTES + body.byteLength;
    const start = active.start + active.size;
    active.size += HEADER_BYTES + body.byteLength;
    this.remember({ start, end: start + HEADER_BYTES + body.byteLength, body: bodyBuffer });
    this.events += 1;
    this.bytes += HEADER_BYTES + body.byteLength;
    this.appended += HEADER_BYTES + body.byteLength;
    if (!this.flushScheduled && !this.failure) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * Writes buffered appends to the active segment. Returns false if the disk refused them: they stay
   * buffered, in order, and are retried (see writeFailure). Never throws.
   */
  flush(): boolean {
    this.flushScheduled = false;
    if (this.pendingBytes === 0 || this.closed) return true;
    while (this.pending.length > 0) {
      let written: number;
      try {
        written = writevSync(this.writeFd, this.pending);
      } catch (error) {
        this.failWrite(error as NodeJS.ErrnoException);
        return false;
      }
      this.pendingBytes -= written;
      this.unsynced = true;
      // Drop what was written; a partly written buffer continues where it stopped.
      while (written > 0) {
        const first = this.pending[0]!;
        if (written >= first.length) {
          this.pending.shift();
          written -= first.length;
        } else {
          this.pending[0] = first.subarray(written);
          written = 0;
        }
      }
    }
    if (this.failure) this.recoverWrite();
    this.scheduleSync();
    return true;
  }

  /**
   * Reads up to `maxRecords` records after the read cursor and advances it.
   * The records stay in the spool until committed.
   */
  read(maxRecords: number): SpooledRecord[] {
    const records: SpooledRecord[] = [];
    let cached = this.cachedIndex(this.readPos);
    while (cached >= 0 && cached < this.cache.length && records.length < maxRecords) {
      const record = this.cache[cached++]!;
      records.push(record);
      this.readPos = record.end;
    }
    if (records.length > 0) return records;
    if (this.pendingBytes > 0 && !this.failure) this.flush();
    while (records.length < maxRecords) {
      if (this.cachedIndex(this.readPos) >= 0) break; // The rest is in memory: the next call serves it.
      // Records the disk has not taken yet are read from the cache only.
      if (this.readPos >= this.writtenEnd()) break;
      const segment = this.segmentAt(this.readPos);
      if (!segment) break;
      const offset = this.readPos - segment.start;
      if (offset >= segment.size) {
        const next = this.segments[this.segments.indexOf(segment) + 1];
        if (!next) break;
        this.readPos = next.start;
        continue;
      }
      const wanted = Math.min(READ_CHUNK_BYTES, Math.max(4096, maxRecords * 1024));
      const chunk = this.readChunk(segment, offset, wanted);
      let at = 0;
      while (records.length < maxRecords && at + HEADER_BYTES <= chunk.length) {
        const length = chunk.readUInt32LE(at);
        if (at + HEADER_BYTES + length > chunk.length) break;
        const start = segment.start + offset + at;
        const end = start + HEADER_BYTES + length;
        records.push({ start, end, body: chunk.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length) });
        at += HEADER_BYTES + length;
      }
      if (at === 0) {
        // One record larger than a chunk: read exactly it.
        const length = chunk.readUInt32LE(0);
        const whole = this.readChunk(segment, offset, HEADER_BYTES + length);
        const start = segment.start + offset;
        records.push({ start, end: start + whole.length, body: whole.subarray(HEADER_BYTES) });
        at = whole.length;
      }
      this.readPos = segment.start + offset + at;
    }
    return records;
  }

  /** Moves the read cursor back to the oldest uncommitted record (after a failed publish). */
  rewind(): void {
    this.readPos = this.committedPos;
  }

  /**
   * Marks one record published. Records are committed in order; a record already dropped by
   * `dropOldest` is ignored (returns false), so a late acknowledgement cannot count twice.
   */
  commit(record: Pick<SpooledRecord, "start" | "end">): boolean {
    if (record.end <= this.committedPos) return false;
    this.committedPos = record.end;
    this.events -= 1;
    this.bytes -= record.end - record.start;
    if (this.readPos < this.committedPos) this.readPos = this.committedPos;
    while (this.cacheHead < this.cache.length && this.cache[this.cacheHead]!.end <= this.committedPos) {
      this.forgetOldest();
    }
    this.scheduleCommitWrite();
    return true;
  }

  /** Drops the oldest records until at least `bytesNeeded` are free under the bound. Returns how many. */
  dropOldest(bytesNeeded: number): number {
    let dropped = 0;
    const savedRead = this.readPos;
    this.readPos = this.committedPos;
    while (this.options.maxBytes - this.bytes < bytesNeeded && this.events > 0) {
      const [oldest] = this.read(1);
      if (!oldest) break;
      this.commit(oldest);
      dropped += 1;
    }
    this.readPos = Math.max(savedRead, this.committedPos);
    return dropped;
  }

  /**
   * Flushes, syncs, records the committed position and closes the files. Never throws: records the disk
   * still refuses are lost with the process, the rest is recovered by the next open.
   */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    if (this.commitTimer) clearTimeout(this.commitTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    ignoreErrors(() => fdatasyncSync(this.writeFd));
    ignoreErrors(() => closeSync(this.writeFd));
    if (this.readFd) ignoreErrors(() => closeSync(this.readFd!.fd));
    this.readFd = null;
    this.writeCommitted();
  }

  private failWrite(error: NodeJS.ErrnoException): void {
    this.failure ??= { code: error.code ?? "EIO", message: error.message, since: Date.now() };
    this.statfsReading = null;
    this.options.onWriteError?.(error);
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.flush();
    }, this.retryIntervalMs);
    this.retryTimer.unref();
  }

  private recoverWrite(): void {
    this.failure = null;
    this.statfsReading = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.options.onWriteRecovered?.();
  }

  /** The global position just past the last byte on disk. */
  private writtenEnd(): number {
    const active = this.segments.at(-1)!;
    return active.start + active.size - this.pendingBytes;
  }

  private remember(record: SpooledRecord): void {
    this.cache.push(record);
    this.cacheBytes += record.end - record.start;
    while (this.cacheBytes > CACHE_MAX_BYTES) this.forgetOldest();
  }

  private forgetOldest(): void {
    const oldest = this.cache[this.cacheHead];
    if (!oldest) return;
    this.cacheBytes -= oldest.end - oldest.start;
    this.cacheHead += 1;
    if (this.cacheHead > 1024 && this.cacheHead * 2 > this.cache.length) {
      this.cache = this.cache.slice(this.cacheHead);
      this.cacheHead = 0;
    }
  }

  /** Index in the cache of the record starting at `position`, or -1. */
  private cachedIndex(position: number): number {
    let low = this.cacheHead;
    let high = this.cache.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const start = this.cache[middle]!.start;
      if (start === position) return middle;
      if (start < position) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  private recover(): void {
    // Validate every segment: cut torn tails, count what is still to publish.
    for (const segment of this.segments) {
      const fd = openSync(segment.path, "r+");
      try {
        const fileSize = fstatSync(fd).size;
        const validEnd = this.scanSegment(segment, fd, fileSize);
        if (validEnd < fileSize) {
          this.options.onCorruption?.(
            `spool segment ${segment.path} has a torn or corrupt record at byte ${validEnd} of ${fileSize}; cutting the rest off`,
          );
          ftruncateSync(fd, validEnd);
        }
        segment.size = validEnd;
      } finally {
        closeSync(fd);
      }
    }
    const first = this.segments[0];
    if (first && this.committedPos < first.start) this.committedPos = first.start;
    const last = this.segments.at(-1);
    if (last && this.committedPos > last.start + last.size) {
      // The committed file is ahead of what survived (it was written, segment data was not synced).
      this.committedPos = last.start + last.size;
    }
  }

  /** Validates a segment's records; counts those after the committed position. Returns the valid length. */
  private scanSegment(segment: Segment, fd: number, fileSize: number): number {
    let offset = 0;
    const header = Buffer.alloc(HEADER_BYTES);
    while (offset + HEADER_BYTES <= fileSize) {
      readSync(fd, header, 0, HEADER_BYTES, offset);
      const length = header.readUInt32LE(0);
      const sum = header.readUInt32LE(4);
      if (offset + HEADER_BYTES + length > fileSize) break;
      const body = Buffer.alloc(length);
      readSync(fd, body, 0, length, offset + HEADER_BYTES);
      if (crc32(body) !== sum) break;
      const end = segment.start + offset + HEADER_BYTES + length;
      if (end > this.committedPos) {
        this.events += 1;
        this.bytes += HEADER_BYTES + length;
      }
      offset += HEADER_BYTES + length;
    }
    return offset;
  }

  private createSegment(start: number): number {
    const path = join(this.options.dir, `${String(start).padStart(20, "0")}${SEGMENT_SUFFIX}`);
    const fd = openSync(path, "a");
    this.segments.push({ start, path, size: 0 });
    return fd;
  }

  /** Starts a new segment, unless the disk still holds back bytes of this one or refuses a new file. */
  private rotate(): void {
    if (!this.flush()) return;
    const last = this.segments.at(-1)!;
    let fd: number;
    try {
      fd = this.createSegment(last.start + last.size);
    } catch {
      return; // Keep appending to the current segment; the next rotation tries again.
    }
    ignoreErrors(() => fdatasyncSync(this.writeFd));
    ignoreErrors(() => closeSync(this.writeFd));
    this.unsynced = false;
    this.writeFd = fd;
  }

  private segmentAt(position: number): Segment | undefined {
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const segment = this.segments[i]!;
      if (segment.start <= position) return segment;
    }
    return this.segments[0];
  }

  private readChunk(segment: Segment, offset: number, wanted: number): Buffer {
    if (this.readFd?.segment !== segment) {
      if (this.readFd) closeSync(this.readFd.fd);
      this.readFd = { segment, fd: openSync(segment.path, "r") };
    }
    const length = Math.min(wanted, segment.size - offset);
    const buffer = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = readSync(this.readFd.fd, buffer, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return buffer.subarray(0, got);
  }

  private scheduleSync(): void {
    if (this.syncTimer || this.syncing) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      if (!this.unsynced || this.closed) return;
      this.unsynced = false;
      this.syncing = true;
      const fd = this.writeFd;
      fdatasync(fd, () => {
        this.syncing = false;
        if (this.unsynced) this.scheduleSync();
      });
    }, this.syncIntervalMs);
    this.syncTimer.unref();
  }

  private scheduleCommitWrite(): void {
    if (this.commitTimer) return;
    this.commitTimer = setTimeout(() => {
      this.commitTimer = null;
      if (!this.closed) this.writeCommitted();
    }, this.commitIntervalMs);
    this.commitTimer.unref();
  }

  /**
   * Records the committed position, then deletes the segments below it. Deleting does not wait for the
   * position to be on disk: on a full disk it is what frees space, and an older position on disk is
   * clamped to the first remaining segment when the spool is opened again.
   */
  private writeCommitted(): void {
    if (this.committedWrittenPos === this.committedPos) return;
    const path = join(this.options.dir, COMMITTED_FILE);
    try {
      writeFileSync(`${path}.tmp`, `${this.committedPos}\n`);
      renameSync(`${path}.tmp`, path);
      this.committedWrittenPos = this.committedPos;
    } catch {
      // Retried with the next commit, or by the retry below if no commit comes.
      if (!this.closed) this.scheduleCommitWrite();
    }
    this.deleteCommittedSegments();
  }

  /** Deletes segments every byte of which is committed (never the active one). */
  private deleteCommittedSegments(): void {
    while (this.segments.length > 1) {
      const first = this.segments[0]!;
      if (first.start + first.size > this.committedPos) break;
      if (this.readFd?.segment === first) {
        ignoreErrors(() => closeSync(this.readFd!.fd));
        this.readFd = null;
      }
      try {
        unlinkSync(first.path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") return; // Tried again after the next commit.
      }
      this.segments.shift();
    }
  }
}

function parseCommitted(text: string): number {
  const value = Number(text.trim());
  return Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

function ignoreErrors(action: () => void): void {
  try {
    action();
  } catch {
    // Best effort on a failing disk: the caller's state stays consistent either way.
  }
}
