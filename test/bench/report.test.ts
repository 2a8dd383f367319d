/** The bench's figure helpers: medians, and a figure compared with its same-run baseline. */
import { describe, expect, it } from "vitest";
import { compared, median } from "../../bench/report.js";

describe("bench figures", () => {
  it("median takes the middle value, or the mean of the middle two, and refuses no values", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(/no values/);
  });

  it("compared reports medians of both sides, their ratio and every run, scaled and rounded", () => {
    const mib = 1024 * 1024;
    const figure = compared([30 * mib, 10 * mib, 20 * mib], [40 * mib, 41 * mib, 39 * mib], {
      name: "stream.x",
      unit: "MiB/s",
      scale: 1 / mib,
      digits: 1,
      better: "higher",
    });
    expect(figure).toEqual({
      name: "stream.x",
      unit: "MiB/s",
      better: "higher",
      value: 20,
      baseline: 40,
      ratio: 0.5,
      runs: [30, 10, 20],
      baselineRuns: [40, 41, 39],
    });
  });

  it("compared keeps a ratio measured another way (a median of per-run ratios)", () => {
    const figure = compared([100, 200, 300], [100, 100, 100], { name: "x", unit: "1/s", ratio: 1.23456 });
    expect(figure.ratio).toBe(1.235);
    expect(figure.value).toBe(200);
  });
});
