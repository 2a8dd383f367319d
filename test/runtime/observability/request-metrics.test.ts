import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { RequestMetrics } from "../../../runtime/observability/request-metrics.js";

const BUCKETS = [0.001, 0.01, 0.1, 1];
const NAMES = { requests: "t_requests_total", duration: "t_request_duration_seconds" };
const LABELS = { method: "method", result: "result" };
const SAMPLES: Array<[string, string, number]> = [
  ["health", "ok", 0.0004],
  ["health", "ok", 0.001],
  ["health", "ok", 0.02],
  ["spawn", "ok", 0.3],
  ["spawn", "CAPACITY", 0.0001],
  ["spawn", "CAPACITY", 5],
  ["get", "NOT_FOUND", 0.002],
];

/** What prom-client's own Counter and Histogram print for the same observations. */
async function promClientText(samples: typeof SAMPLES): Promise<string> {
  const registry = new Registry();
  const requests = new Counter({
    name: NAMES.requests,
    help: "Requests handled, by method and result (ok or an error code).",
    labelNames: ["method", "result"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: NAMES.duration,
    help: "Time from receiving a request to queueing its reply.",
    labelNames: ["method"],
    buckets: BUCKETS,
    registers: [registry],
  });
  for (const [method, result, seconds] of samples) {
    requests.inc({ method, result });
    duration.observe({ method }, seconds);
  }
  return registry.metrics();
}

const sortedLines = (text: string) => text.split("\n").filter(Boolean).sort();

describe("request metrics tallied per method", () => {
  it("print the same counter and histogram as prom-client's own metrics", async () => {
    const registry = new Registry();
    const metrics = new RequestMetrics(registry, NAMES, LABELS, BUCKETS);
    for (const [method, result, seconds] of SAMPLES) metrics.tally(method).record(result, seconds);
    expect(sortedLines(await registry.metrics())).toEqual(sortedLines(await promClientText(SAMPLES)));
  });

  it("add only what is new at each scrape, so counters keep counting across scrapes", async () => {
    const registry = new Registry();
    const metrics = new RequestMetrics(registry, NAMES, LABELS, BUCKETS);
    const health = metrics.tally("health");
    health.record("ok", 0.0004);
    await registry.metrics();
    health.record("ok", 0.0004);
    health.record("TIMEOUT", 2);
    const text = await registry.metrics();
    expect(text).toContain('t_requests_total{method="health",result="ok"} 2');
    expect(text).toContain('t_requests_total{method="health",result="TIMEOUT"} 1');
    expect(text).toContain('t_request_duration_seconds_count{method="health"} 3');
    expect(text).toContain('t_request_duration_seconds_bucket{le="+Inf",method="health"} 3');
    expect(text).toContain('t_request_duration_seconds_bucket{le="0.001",method="health"} 2');
  });
});
