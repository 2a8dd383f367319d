/**
 * A circuit breaker per server: after `failureThreshold` consecutive failures it opens and requests
 * fail fast; after `resetTimeoutMs` it lets one probe through (half-open); the probe's outcome
 * closes it again or re-opens it.
 */

export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. @default 5 */
  readonly failureThreshold?: number;
  /** How long the circuit stays open before a probe is allowed. @default 5000 */
  readonly resetTimeoutMs?: number;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
}

export class CircuitBreaker {
  private readonly failureThreshold: number;
  private readonly resetTimeoutMs: number;
  private readonly now: () => number;
  private failures = 0;
  private openedAt = 0;
  private current: BreakerState = "closed";
  private probeInFlight = false;

  constructor(options: BreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.resetTimeoutMs = options.resetTimeoutMs ?? 5_000;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.failureThreshold) || this.failureThreshold < 1) {
      throw new RangeError(
        `breaker failureThreshold must be a whole number >= 1, got ${this.failureThreshold}. Fix: use for example 5.`,
      );
    }
  }

  /** The state now; an open circuit whose reset timeout has passed reads as half-open. */
  get state(): BreakerState {
    if (this.current === "open" && this.now() - this.openedAt >= this.resetTimeoutMs) return "half-open";
    return this.current;
  }

  /** Whether a request may go through now, without reserving anything. */
  canPass(): boolean {
    const state = this.state;
    return state === "closed" || (state === "half-open" && !this.probeInFlight);
  }

  /**
   * Reserves passage for one request. Returns false when the circuit is open, or half-open with a
   * probe already in flight. A caller that got true must report back with success() or failure().
   */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === "closed") return true;
    if (state === "half-open" && !this.probeInFlight) {
      this.current = "half-open";
      this.probeInFlight = true;
      return true;
    }
    return false;
  }

  success(): void {
    this.failures = 0;
    this.probeInFlight = false;
    this.current = "closed";
  }

  failure(): void {
    this.failures += 1;
    if (this.current === "half-open" || this.failures >= this.failureThreshold) {
      this.current = "open";
      this.openedAt = this.now();
    }
    this.probeInFlight = false;
  }

  /** Releases a reservation without judging the server (the outcome said nothing about its health). */
  release(): void {
    if (this.probeInFlight) {
      this.probeInFlight = false;
      this.current = "open";
    }
  }

  /** Milliseconds until an open circuit allows a probe; 0 when it already does. */
  msUntilProbe(): number {
    if (this.current !== "open") return 0;
    return Math.max(0, this.resetTimeoutMs - (this.now() - this.openedAt));
  }
}
