/**
 * The benchmark report as one self-contained HTML page (inline SVG and CSS, no scripts, no external
 * assets): per figure, a chart of the value against its baseline, each run as a dot on its bar,
 * with the ratio and the note. Results measured on a quiet machine and with a CPU hog beside the
 * bench ("loaded") appear side by side.
 */
import type { Figure } from "./report.js";

export interface ResultSet {
  /** "quiet" or "loaded". */
  readonly conditions: string;
  readonly figures: readonly Figure[];
  /** When it was measured (ISO 8601). */
  readonly measuredAt?: string;
}

const escape = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );

const format = (value: number): string =>
  Math.abs(value) >= 1000 ? Math.round(value).toLocaleString("en-US") : String(Number(value.toPrecision(4)));

const WIDTH = 460;
const LABEL = 110;
const BAR = 22;
const GAP = 10;

interface Bar {
  readonly label: string;
  readonly value: number;
  readonly runs?: readonly number[];
  readonly kind: "value" | "baseline";
}

/** Horizontal bars on one linear scale from 0, each run drawn as a dot on its bar. */
export function barChart(bars: readonly Bar[], unit: string): string {
  const max = Math.max(1e-12, ...bars.flatMap((bar) => [bar.value, ...(bar.runs ?? [])])) * 1.1;
  const scale = (value: number) => LABEL + ((WIDTH - LABEL - 70) * value) / max;
  const height = bars.length * (BAR + GAP) + GAP + 14;
  const rows = bars.map((bar, index) => {
    const y = GAP + index * (BAR + GAP);
    const dots = (bar.runs ?? [])
      .map((run) => `<circle cx="${scale(run).toFixed(1)}" cy="${y + BAR / 2}" r="3" class="run"/>`)
      .join("");
    return [
      `<text x="${LABEL - 6}" y="${y + BAR / 2 + 4}" text-anchor="end">${escape(bar.label)}</text>`,
      `<rect x="${LABEL}" y="${y}" width="${Math.max(1, scale(bar.value) - LABEL).toFixed(1)}" height="${BAR}" class="${bar.kind}"/>`,
      dots,
      `<text x="${(scale(bar.value) + 6).toFixed(1)}" y="${y + BAR / 2 + 4}">${escape(format(bar.value))}</text>`,
    ].join("");
  });
  const axisY = height - 12;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img">`,
    ...rows,
    `<line x1="${LABEL}" y1="${axisY - 4}" x2="${WIDTH - 70}" y2="${axisY - 4}" class="axis"/>`,
    `<text x="${LABEL}" y="${axisY + 8}" class="small">0</text>`,
    `<text x="${WIDTH - 70}" y="${axisY + 8}" text-anchor="end" class="small">${escape(format(max))} ${escape(unit)}</text>`,
    "</svg>",
  ].join("");
}

function figureBars(figure: Figure): Bar[] {
  const bars: Bar[] = [{ label: "measured", value: figure.value, runs: figure.runs, kind: "value" }];
  if (figure.baseline !== undefined) {
    bars.push({ label: "baseline", value: figure.baseline, runs: figure.baselineRuns, kind: "baseline" });
  }
  for (const [name, value] of Object.entries(figure.distribution ?? {})) {
    bars.push({ label: name, value, kind: name.toLowerCase().startsWith("baseline") ? "baseline" : "value" });
  }
  return bars;
}

function verdict(figure: Figure): string {
  if (figure.ratio === undefined) return "";
  const direction =
    figure.better === "lower" ? "lower is better" : figure.better === "higher" ? "higher is better" : "";
  return `<p class="ratio">ratio <strong>${escape(format(figure.ratio))}</strong>${direction ? ` <span class="small">(${direction})</span>` : ""}</p>`;
}

function card(figure: Figure): string {
  return [
    `<section class="figure"><h3>${escape(figure.name)}</h3>`,
    `<p><strong>${escape(format(figure.value))}</strong> ${escape(figure.unit)}${
      figure.baseline !== undefined ? ` against ${escape(format(figure.baseline))}` : ""
    }</p>`,
    verdict(figure),
    barChart(figureBars(figure), figure.unit),
    figure.note ? `<p class="note">${escape(figure.note)}</p>` : "",
    "</section>",
  ].join("");
}

/** The whole page. */
export function renderReport(sets: readonly ResultSet[]): string {
  const body = sets.map(
    (set) =>
      `<h2>${escape(set.conditions)}${set.measuredAt ? ` <span class="small">${escape(set.measuredAt)}</span>` : ""}</h2>` +
      `<div class="grid">${set.figures.map(card).join("")}</div>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Zeroplane benchmarks</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
.grid{display:flex;flex-wrap:wrap;gap:16px}
.figure{border:1px solid #ddd;border-radius:6px;padding:8px 12px;width:${WIDTH + 4}px}
h3{font-size:14px;margin:4px 0}
.note,.small{color:#666;font-size:12px}
svg text{font-size:12px;fill:#222}
svg .small{fill:#666;font-size:10px}
rect.value{fill:#3b7dd8} rect.baseline{fill:#b9b9b9}
circle.run{fill:#fff;stroke:#222;stroke-width:1}
line.axis{stroke:#999}
</style></head><body>
<h1>Zeroplane benchmarks</h1>
<p class="small">Each figure is the median of several runs (dots: each run) against a baseline measured in the same run. Raw results: results-*.json beside this page.</p>
${body.join("\n")}
</body></html>
`;
}
