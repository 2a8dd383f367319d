/** Exponential backoff with full jitter, so many clients retrying at once spread out. */

export interface BackoffOptions {
  /** Delay before the first retry, before jitter. @default 100 */
  readonly initialDelayMs?: number;
  /** Upper bound of any delay. @default 5000 */
  readonly maxDelayMs?: number;
  /** Growth per attempt. @default 2 */
  readonly multiplier?: number;
  /** Fraction of the delay that is randomized, 0..1 (1 = full jitter). @default 1 */
  readonly jitter?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = {
  initialDelayMs: 100,
  maxDelayMs: 5_000,
  multiplier: 2,
  jitter: 1,
};

/**
 * The delay before retry number `retry` (1 for the first retry).
 * Without jitter it is min(max, initial * multiplier^(retry-1)); jitter removes up to that fraction at random.
 */
export function backoffDelay(
  retry: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const { initialDelayMs, maxDelayMs, multiplier, jitter } = { ...DEFAULT_BACKOFF, ...options };
  const ceiling = Math.min(maxDelayMs, initialDelayMs * multiplier ** Math.max(0, retry - 1));
  const jitterFraction = Math.min(1, Math.max(0, jitter));
  return Math.round(ceiling * (1 - jitterFraction * random()));
}

/** Sleeps, but wakes early (resolving) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
