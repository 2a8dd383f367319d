import { describe, expect, it } from "vitest";
import { CircuitBreaker, Placement, backoffDelay } from "../../../runtime/client/index.js";

describe("backoff", () => {
  it("doubles from the initial delay up to the maximum when jitter is off", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map((retry) =>
      backoffDelay(retry, { initialDelayMs: 100, maxDelayMs: 1_000, jitter: 0 }),
    );
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it("with full jitter, spreads each delay between 0 and its ceiling", () => {
    const options = { initialDelayMs: 100, maxDelayMs: 10_000 };
    expect(backoffDelay(3, options, () => 0)).toBe(400);
    expect(backoffDelay(3, options, () => 0.5)).toBe(200);
    expect(backoffDelay(3, options, () => 0.999_999)).toBe(0);
    const samples = Array.from({ length: 200 }, () => backoffDelay(4, options));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThanOrEqual(800);
    expect(new Set(samples).size).toBeGreaterThan(20);
  });

  it("with partial jitter, keeps the delay above (1 - jitter) of the ceiling", () => {
    expect(backoffDelay(2, { initialDelayMs: 100, jitter: 0.25 }, () => 1)).toBe(150);
  });
});

describe("circuit breaker", () => {
  function clocked() {
    let now = 1_000;
    const breaker = new CircuitBreaker({ failureThreshold: 3, resetTimeoutMs: 500, now: () => now });
    return { breaker, advance: (ms: number) => (now += ms) };
  }

  it("stays closed while failures are not consecutive", () => {
    const { breaker } = clocked();
    breaker.failure();
    breaker.failure();
    breaker.success();
    breaker.failure();
    breaker.failure();
    expect(breaker.state).toBe("closed");
    expect(breaker.tryAcquire()).toBe(true);
  });

  it("opens after N consecutive failures and then fails fast", () => {
    const { breaker } = clocked();
    for (let i = 0; i < 3; i++) breaker.failure();
    expect(breaker.state).toBe("open");
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.msUntilProbe()).toBe(500);
  });

  it("lets exactly one probe through once the reset timeout has passed", () => {
    const { breaker, advance } = clocked();
    for (let i = 0; i < 3; i++) breaker.failure();
    advance(500);
    expect(breaker.state).toBe("half-open");
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
    breaker.success();
    expect(breaker.state).toBe("closed");
    expect(breaker.tryAcquire()).toBe(true);
  });

  it("re-opens at once when the probe fails", () => {
    const { breaker, advance } = clocked();
    for (let i = 0; i < 3; i++) breaker.failure();
    advance(600);
    expect(breaker.tryAcquire()).toBe(true);
    breaker.failure();
    expect(breaker.state).toBe("open");
    expect(breaker.tryAcquire()).toBe(false);
    advance(500);
    expect(breaker.tryAcquire()).toBe(true);
  });

  it("refuses a threshold below 1 with the value and a fix", () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0 })).toThrow(/failureThreshold.*got 0.*Fix/);
  });
});

describe("placement", () => {
  const servers = (loads: Array<number | null>) =>
    loads.map((load, i) => ({ endpoint: `tcp://10.0.0.${i + 1}:5555`, load }));

  it("round-robin takes each server in turn, whatever its load", () => {
    const placement = new Placement("round-robin");
    const picks = Array.from({ length: 6 }, () => placement.choose(servers([0.9, 0, 0.5])).endpoint);
    expect(picks).toEqual([
      "tcp://10.0.0.1:5555",
      "tcp://10.0.0.2:5555",
      "tcp://10.0.0.3:5555",
      "tcp://10.0.0.1:5555",
      "tcp://10.0.0.2:5555",
      "tcp://10.0.0.3:5555",
    ]);
  });

  it("least-loaded picks the lowest load", () => {
    const placement = new Placement("least-loaded");
    expect(placement.choose(servers([0.9, 0.1, 0.5])).endpoint).toBe("tcp://10.0.0.2:5555");
  });

  it("least-loaded spreads a burst over servers with equal load, and counts unknown load as idle", () => {
    const placement = new Placement("least-loaded");
    const picks = new Set(
      Array.from({ length: 4 }, () => placement.choose(servers([0.2, null, 0, 0.7])).endpoint),
    );
    expect(picks).toEqual(new Set(["tcp://10.0.0.2:5555", "tcp://10.0.0.3:5555"]));
  });
});
