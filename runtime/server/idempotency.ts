/**
 * Spawn idempotency: a repeated idempotency key within the window returns the first spawn's agent.
 * The cache holds the promise, so duplicates that arrive while the first spawn is still running
 * share it. A spawn that throws (capacity, draining) is forgotten, so a retry can succeed.
 */
import type { AgentInfo } from "../protocol/index.js";

interface Entry {
  readonly promise: Promise<AgentInfo>;
  readonly expiresAt: number;
}

export class IdempotencyCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly windowMs: number,
    /** Oldest keys are forgotten beyond this many, bounding memory under a flood of unique keys. */
    private readonly maxEntries = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The in-flight or finished spawn for this key, if still inside the window. */
  lookup(key: string): Promise<AgentInfo> | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.promise;
  }

  /** Remembers a spawn under its key; forgets it again if the spawn throws. */
  remember(key: string, promise: Promise<AgentInfo>): void {
    this.prune();
    const entry: Entry = { promise, expiresAt: this.now() + this.windowMs };
    this.entries.set(key, entry);
    promise.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
  }

  get size(): number {
    return this.entries.size;
  }

  /** Entries are in insertion order, which is expiry order: drop from the front. */
  private prune(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now && this.entries.size < this.maxEntries) break;
      this.entries.delete(key);
    }
  }
}
