/** One benchmark figure. `baseline` and `ratio` appear where a reference was measured in the same run. */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: number;
  readonly ratio?: number;
  /** What bounds the figure, or how it was measured, where that helps read it. */
  readonly note?: string;
  /** Which direction is better, for the report's charts. */
  readonly better?: "higher" | "lower";
  /** The value of each run (the figure is their median). */
  readonly runs?: readonly number[];
  /** The baseline of each run. */
  readonly baselineRuns?: readonly number[];
  /** Further points of a distribution (such as p99 beside a p50), for the charts. */
  readonly distribution?: Readonly<Record<string, number>>;
  /** Under what machine load it was measured: "quiet" or "loaded" (a CPU hog beside it). */
  readonly conditions?: string;
}

export type Report = (figure: Figure) => void;

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

/** Rounds a ratio or a figure to a readable precision. */
export function round(value: number, digits = 3): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** What `compared` needs beyond the runs: the figure's name, unit, direction and note. */
export interface ComparedFigure extends Omit<
  Figure,
  "value" | "baseline" | "ratio" | "runs" | "baselineRuns"
> {
  /** Shown figures are `runs` times this (e.g. 1/MiB); the ratio does not depend on it. */
  readonly scale?: number;
  /** Decimal places of the shown figures. */
  readonly digits?: number;
  /** The ratio, when it is not median(runs) / median(baselineRuns) (e.g. a median of per-run ratios). */
  readonly ratio?: number;
}

/** A figure measured against a baseline in the same run: medians of both, their ratio, every run. */
export function compared(
  runs: readonly number[],
  baselineRuns: readonly number[],
  { scale = 1, digits = 3, ratio, ...figure }: ComparedFigure,
): Figure {
  const shown = (value: number) => round(value * scale, digits);
  return {
    ...figure,
    value: shown(median(runs)),
    baseline: shown(median(baselineRuns)),
    ratio: round(ratio ?? median(runs) / median(baselineRuns)),
    runs: runs.map(shown),
    baselineRuns: baselineRuns.map(shown),
  };
}
