/**
 * V8 tuning for the server process. Streaming output allocates a buffer per socket read and per
 * published event, and V8 counts those bytes towards the old generation's limit, which for a heap
 * as small as the server's (about 14 MB live) is a few MB: a fast writer forced a full mark-compact
 * every 60–90 ms, and garbage collection became the largest cost of moving output (bench/stream).
 * Letting the old generation grow to 5× its live size before the next full collection (V8's default
 * factor is at most 2×) cut full collections about 3× and the server's CPU per byte by a fifth. The
 * cost is memory: at most about 4× the live heap of garbage (tens of MB) between collections, inside
 * the headroom the memory budget leaves (memory-budget.ts).
 */
import { setFlagsFromString } from "node:v8";

/** The V8 flags the server sets at start-up. */
export const SERVER_V8_FLAGS: readonly string[] = ["--heap-growing-percent=400"];

/**
 * Applies SERVER_V8_FLAGS. V8 reads this one each time it sets the next collection's limit, so it
 * takes effect when set after start-up (bench/stream measures it).
 */
export function tuneServerGc(): void {
  for (const flag of SERVER_V8_FLAGS) setFlagsFromString(flag);
}
