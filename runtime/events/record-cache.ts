/**
 * The server's watched copy of the cluster registry's agent records, for `list`. Bounded by count
 * and by bytes (the records' encoded size), oldest update forgotten first: a hostile client's large
 * params, multiplied by every server of the cluster, must not grow each server's memory without end.
 * `get` still reads a forgotten record from the bucket.
 */
import type { AgentRecordValue } from "./registry-keys.js";

/** Records kept in memory for `list` at most. */
export const MAX_CACHED_RECORDS = 100_000;
/** Bytes of records (as stored in the bucket) kept in memory for `list` at most. */
export const MAX_CACHED_RECORD_BYTES = 64 * 1024 * 1024;

export class RecordCache {
  private readonly records = new Map<string, { readonly value: AgentRecordValue; readonly bytes: number }>();
  private totalBytes = 0;

  constructor(
    private readonly maxRecords = MAX_CACHED_RECORDS,
    private readonly maxBytes = MAX_CACHED_RECORD_BYTES,
  ) {}

  /** Stores the newest record under its bucket key; `bytes` is its encoded size. Evicts the oldest past a bound. */
  set(key: string, value: AgentRecordValue, bytes: number): void {
    this.delete(key); // Re-inserted last: the map stays in update order.
    this.records.set(key, { value, bytes });
    this.totalBytes += bytes;
    while (
      this.records.size > this.maxRecords ||
      (this.totalBytes > this.maxBytes && this.records.size > 1)
    ) {
      this.delete(this.records.keys().next().value!);
    }
  }

  delete(key: string): void {
    const entry = this.records.get(key);
    if (!entry) return;
    this.records.delete(key);
    this.totalBytes -= entry.bytes;
  }

  /** Every cached record, oldest update first. */
  *values(): IterableIterator<AgentRecordValue> {
    for (const entry of this.records.values()) yield entry.value;
  }

  get size(): number {
    return this.records.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }
}
