/** `--since` values of `events` and `logs`: a duration ago or an ISO time. */
import { CliError, EXIT_CODES } from "./errors.js";

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `10m`, `2h`, `30s`, `1d` (ago) or an ISO time, as milliseconds since the epoch. */
export function parseSince(value: string, now = Date.now(), flag = "--since"): number {
  const duration = DURATION.exec(value);
  if (duration) return now - Number(duration[1]) * UNIT_MS[duration[2]!]!;
  const time = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(time)) {
    throw new CliError(
      `${flag} "${value}" is neither a duration nor an ISO time. Fix: use for example ${flag} 10m, ${flag} 2h or ${flag} 2026-01-31T12:00:00Z.`,
      EXIT_CODES.usage,
    );
  }
  return time;
}
