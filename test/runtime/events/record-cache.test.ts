/**
 * The watched copy of the registry's records that `list` reads: bounded by count and by bytes, the
 * oldest update forgotten first, so records from a whole cluster cannot grow one server's memory.
 */
import { describe, expect, it } from "vitest";
import { MAX_CACHED_RECORD_BYTES, RecordCache } from "../../../runtime/events/record-cache.js";
import type { AgentRecordValue } from "../../../runtime/events/registry-keys.js";
import type { AgentInfo } from "../../../runtime/protocol/index.js";

function record(id: string, seq = 1): AgentRecordValue {
  const agent = { id, status: "running", createdAt: seq } as unknown as AgentInfo; // Only the fields the cache reads.
  return { agent, instance: "i-1", seq, time: seq };
}

const ids = (cache: RecordCache) => [...cache.values()].map((value) => value.agent.id);

describe("the registry's record cache", () => {
  it("keeps one record per key, the newest, in update order", () => {
    const cache = new RecordCache();
    cache.set("a", record("a", 1), 10);
    cache.set("b", record("b", 1), 10);
    cache.set("a", record("a", 2), 30);
    expect(ids(cache)).toEqual(["b", "a"]);
    expect([...cache.values()][1]!.seq).toBe(2);
    expect(cache.bytes).toBe(40);
    cache.delete("b");
    cache.delete("missing");
    expect(ids(cache)).toEqual(["a"]);
    expect(cache.bytes).toBe(30);
  });

  it("forgets the oldest records past the count bound", () => {
    const cache = new RecordCache(3, Number.MAX_SAFE_INTEGER);
    for (const id of ["a", "b", "c", "d", "e"]) cache.set(id, record(id), 1);
    expect(ids(cache)).toEqual(["c", "d", "e"]);
    expect(cache.size).toBe(3);
  });

  it("forgets the oldest records past the byte bound, and keeps the newest even when it alone is larger", () => {
    const cache = new RecordCache(1000, 100);
    for (const id of ["a", "b", "c", "d"]) cache.set(id, record(id), 30);
    expect(ids(cache)).toEqual(["b", "c", "d"]);
    expect(cache.bytes).toBe(90);
    cache.set("huge", record("huge"), 500);
    expect(ids(cache)).toEqual(["huge"]);
    expect(cache.bytes).toBe(500);
  });

  it("holds at most 64 MiB of records by default", () => {
    const cache = new RecordCache();
    const chunk = 1024 * 1024;
    for (let i = 0; i < 100; i++) cache.set(`agent-${i}`, record(`agent-${i}`), chunk);
    expect(MAX_CACHED_RECORD_BYTES).toBe(64 * chunk);
    expect(cache.bytes).toBeLessThanOrEqual(MAX_CACHED_RECORD_BYTES);
    expect(cache.size).toBe(64);
    expect(ids(cache)[0]).toBe("agent-36");
  });
});
