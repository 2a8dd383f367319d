import { describe, expect, it } from "vitest";
import { barChart, renderReport } from "../../bench/report-html.js";
import type { Figure } from "../../bench/report.js";

const FIGURES: Figure[] = [
  {
    name: "server.health_request_rate",
    value: 47300,
    unit: "requests/s",
    baseline: 52100,
    ratio: 0.908,
    runs: [46000, 47300, 48100],
    baselineRuns: [51000, 52100, 53000],
    better: "higher",
    note: "4 DEALERs x 32 in flight <CURVE>",
  },
  {
    name: "server.health_loaded_p50",
    value: 2.7,
    unit: "ms",
    baseline: 2.5,
    ratio: 1.08,
    better: "lower",
    distribution: { p99: 9.1, baselineP99: 8.4 },
  },
  { name: "synth.seconds", value: 3.2, unit: "s" },
];

describe("benchmark report page", () => {
  it("renders a self-contained page with a chart per figure, each run as a dot", () => {
    const html = renderReport([
      { conditions: "quiet", figures: FIGURES, measuredAt: "2026-12-02T16:00:00Z" },
      { conditions: "loaded", figures: FIGURES.slice(0, 1) },
    ]);
    expect(html.startsWith("<!doctype html>")).toBe(true);
    // One chart per figure per result set.
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html).toContain("<h2>quiet");
    expect(html).toContain("<h2>loaded");
    // Three runs and three baseline runs on the rate chart, twice (quiet and loaded).
    expect(html.match(/class="run"/g)).toHaveLength(12);
    expect(html).toContain("47,300");
    expect(html).toContain("ratio <strong>0.908</strong>");
    expect(html).toContain("lower is better");
    // Notes are escaped, and nothing is loaded from elsewhere.
    expect(html).toContain("&lt;CURVE&gt;");
    expect(html).not.toMatch(/<script|<link|src=|href=/);
  });

  it("draws bars to scale: a value half the baseline gets half the width", () => {
    const svg = barChart(
      [
        { label: "measured", value: 50, kind: "value" },
        { label: "baseline", value: 100, kind: "baseline" },
      ],
      "req/s",
    );
    const widths = [...svg.matchAll(/<rect [^>]*width="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(widths).toHaveLength(2);
    expect(widths[0]! / widths[1]!).toBeCloseTo(0.5, 2);
  });
});
