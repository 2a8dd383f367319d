/**
 * Request counts and durations per method, kept in plain numbers and handed to Prometheus at scrape
 * time. prom-client hashes and validates the label set on every inc() and observe(), which costs
 * more than answering a health request; here a request costs an array increment, and the label work
 * happens once per scrape. The output is the same: a counter `<requests>{method,result}` and a
 * histogram `<duration>{method}` with the given buckets.
 */
import { Counter, type Metric, type Registry } from "prom-client";

/** One method's tallies. Methods come from a fixed set (see methodLabel), so slots are bounded. */
export class MethodTally {
  ok = 0;
  /** Error code -> count; error codes come from a fixed set. */
  readonly errors = new Map<string, number>();
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly method: string,
    private readonly bounds: readonly number[],
  ) {
    this.buckets = new Float64Array(bounds.length + 1);
  }

  /** Counts one request; `result` is "ok" or an error code. */
  record(result: string, seconds: number): void {
    if (result === "ok") this.ok++;
    else this.errors.set(result, (this.errors.get(result) ?? 0) + 1);
    const bounds = this.bounds;
    let index = 0;
    while (index < bounds.length && seconds > bounds[index]!) index++;
    this.buckets[index]!++;
    this.sum += seconds;
    this.count++;
  }
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

export class RequestMetrics {
  private readonly byMethod = new Map<string, MethodTally>();

  constructor(
    registry: Registry,
    names: { readonly requests: string; readonly duration: string },
    labels: { readonly method: string; readonly result: string },
    private readonly bounds: readonly number[],
  ) {
    const tallies = this.byMethod;
    // Counter values reported so far per "method\0result", so collect() adds only the difference.
    const reported = new Map<string, number>();
    new Counter({
      name: names.requests,
      help: "Requests handled, by method and result (ok or an error code).",
      labelNames: [labels.method, labels.result],
      registers: [registry],
      collect() {
        for (const tally of tallies.values()) {
          const report = (result: string, total: number) => {
            const key = `${tally.method}\u0000${result}`;
            const seen = reported.get(key) ?? 0;
            if (total > seen)
              this.inc({ [labels.method]: tally.method, [labels.result]: result }, total - seen);
            reported.set(key, total);
          };
          if (tally.ok > 0) report("ok", tally.ok);
          for (const [code, total] of tally.errors) report(code, total);
        }
      },
    });
    // A histogram built from the tallies at scrape time. prom-client's registry reads any metric
    // through get(); its own Histogram has no way to add pre-counted buckets.
    const histogram = {
      name: names.duration,
      help: "Time from receiving a request to queueing its reply.",
      type: "histogram",
      aggregator: "sum",
      get: async () => ({
        name: names.duration,
        help: histogram.help,
        type: "histogram",
        aggregator: "sum",
        values: [...tallies.values()].flatMap((tally) =>
          this.histogramValues(names.duration, labels.method, tally),
        ),
      }),
      reset: () => undefined,
    };
    // The registry duck-types metrics (registerMetric stores it, metrics() calls get()).
    registry.registerMetric(histogram as unknown as Metric);
  }

  tallies(): Iterable<MethodTally> {
    return this.byMethod.values();
  }

  /** The tally to record one method's requests in; look it up once, record many times. */
  tally(method: string): MethodTally {
    let tally = this.byMethod.get(method);
    if (!tally) {
      tally = new MethodTally(method, this.bounds);
      this.byMethod.set(method, tally);
    }
    return tally;
  }

  private histogramValues(name: string, methodLabel: string, tally: MethodTally): MetricValue[] {
    if (tally.count === 0) return [];
    const values: MetricValue[] = [];
    let cumulative = 0;
    this.bounds.forEach((bound, index) => {
      cumulative += tally.buckets[index]!;
      values.push({
        metricName: `${name}_bucket`,
        labels: { le: bound, [methodLabel]: tally.method },
        value: cumulative,
      });
    });
    values.push(
      {
        metricName: `${name}_bucket`,
        labels: { le: "+Inf", [methodLabel]: tally.method },
        value: tally.count,
      },
      { metricName: `${name}_sum`, labels: { [methodLabel]: tally.method }, value: tally.sum },
      { metricName: `${name}_count`, labels: { [methodLabel]: tally.method }, value: tally.count },
    );
    return values;
  }
}
