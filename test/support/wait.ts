/**
 * The one polling helper for tests: wait until a check yields a truthy value, or fail naming what
 * was awaited. Every test that waits for something asynchronous (a process to die, a metric to
 * move, NATS to come back) uses this, so timeouts read the same everywhere.
 */

/** What a check yields once it holds: its value, minus the "not yet" values. */
export type Ready<T> = NonNullable<Exclude<T, false>>;

export interface WaitOptions {
  /** Milliseconds between checks. @default 25 */
  readonly intervalMs?: number;
  /**
   * Count a check that throws as "not yet" (a server still starting, NATS reconnecting) and report
   * the last error on timeout. @default false: a throwing check fails the wait at once, so an
   * assertion inside the check still fails the test immediately.
   */
  readonly retryErrors?: boolean;
}

/** Polls `check` until it returns a truthy value, which it returns; throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 15_000,
  options: WaitOptions = {},
): Promise<Ready<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Ready<T>;
    } catch (error) {
      if (!options.retryErrors) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      const cause =
        lastError === undefined ? "" : ` (last error: ${(lastError as Error).message ?? String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 25));
  }
}
