import { describe, expect, it } from "vitest";
import type { AgentInfo } from "../../../runtime/protocol/index.js";
import { IdempotencyCache } from "../../../runtime/server/idempotency.js";

const agent = (id: string) => ({ id }) as AgentInfo;

describe("IdempotencyCache", () => {
  it("returns the remembered spawn within the window and forgets it after", async () => {
    let now = 1_000;
    const cache = new IdempotencyCache(500, 100, () => now);
    const first = Promise.resolve(agent("a"));
    cache.remember("k", first);
    expect(cache.lookup("k")).toBe(first);
    now += 499;
    expect(await cache.lookup("k")).toEqual(agent("a"));
    now += 1;
    expect(cache.lookup("k")).toBeUndefined();
  });

  it("shares a spawn that is still in flight", () => {
    const cache = new IdempotencyCache(1_000);
    const pending = new Promise<AgentInfo>(() => undefined);
    cache.remember("k", pending);
    expect(cache.lookup("k")).toBe(pending);
  });

  it("forgets a spawn that failed, so a retry can start a new one", async () => {
    const cache = new IdempotencyCache(1_000);
    const failed = Promise.reject(new Error("capacity"));
    cache.remember("k", failed);
    await failed.catch(() => undefined);
    await Promise.resolve();
    expect(cache.lookup("k")).toBeUndefined();
  });

  it("drops the oldest keys beyond its size bound", () => {
    const cache = new IdempotencyCache(60_000, 3);
    for (const key of ["a", "b", "c", "d"]) cache.remember(key, Promise.resolve(agent(key)));
    expect(cache.size).toBe(3);
    expect(cache.lookup("a")).toBeUndefined();
    expect(cache.lookup("d")).toBeDefined();
  });
});
