/**
 * `npm run bench`: runs every benchmark and prints one JSON object per line (a `Figure`, see
 * report.ts). Each benchmark module lives beside this file and exports `run(report)`; arguments
 * pick modules by name (`npm run bench -- server stream`). Figures are medians of several runs: the
 * machines are shared and noisy.
 *
 * Also writes bench/out/results-<conditions>.json and bench/out/report.html (charts of every result
 * set there). With `--hog` a busy-looping process runs beside the benchmarks and the figures are
 * marked "loaded"; otherwise "quiet".
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Figure } from "./report.js";
import { renderReport, type ResultSet } from "./report-html.js";

const here = dirname(fileURLToPath(import.meta.url));
const outputDir = join(here, "out");
const args = process.argv.slice(2);
const hog = args.includes("--hog");
const only = args.filter((arg) => !arg.startsWith("--"));
const conditions = hog ? "loaded" : "quiet";
const modules = readdirSync(here)
  .filter((file) => file.endsWith(".bench.ts"))
  .filter((file) => only.length === 0 || only.some((name) => file.includes(name)))
  .sort();

const figures: Figure[] = [];
function report(figure: Figure): void {
  const marked = { ...figure, conditions };
  figures.push(marked);
  process.stdout.write(`${JSON.stringify(marked)}\n`);
}

// The hog: one process spinning on a core for as long as the benchmarks run.
const hogProcess = hog ? spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" }) : null;
try {
  for (const file of modules) {
    const module = (await import(pathToFileURL(join(here, file)).href)) as {
      run: (r: typeof report) => Promise<void>;
    };
    try {
      await module.run(report);
    } catch (error) {
      process.stderr.write(`benchmark ${file} failed: ${(error as Error).stack}\n`);
      process.exitCode = 1;
    }
  }
} finally {
  hogProcess?.kill("SIGKILL");
}

// Results of this run replace earlier figures of the same name and conditions.
mkdirSync(outputDir, { recursive: true });
const resultsFile = join(outputDir, `results-${conditions}.json`);
const previous: Figure[] = existsSync(resultsFile)
  ? ((JSON.parse(readFileSync(resultsFile, "utf8")) as ResultSet).figures as Figure[])
  : [];
const names = new Set(figures.map((f) => f.name));
const merged = [...previous.filter((f) => !names.has(f.name)), ...figures].sort((a, b) =>
  a.name.localeCompare(b.name),
);
const set: ResultSet = { conditions, measuredAt: new Date().toISOString(), figures: merged };
writeFileSync(resultsFile, `${JSON.stringify(set, null, 2)}\n`);
const sets = ["quiet", "loaded"]
  .map((name) => join(outputDir, `results-${name}.json`))
  .filter((file) => existsSync(file))
  .map((file) => JSON.parse(readFileSync(file, "utf8")) as ResultSet);
writeFileSync(join(outputDir, "report.html"), renderReport(sets));
process.stderr.write(`results: ${resultsFile}\nreport: ${join(outputDir, "report.html")}\n`);
