/**
 * `npm run bench`: runs every benchmark and prints one JSON object per line:
 * {"name", "value", "unit", "baseline"?, "ratio"?}. Each benchmark module lives beside this file
 * and exports `run(report)`. Figures are medians of several runs: the machines are shared and noisy.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Figure } from "./report.js";

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const modules = readdirSync(here)
  .filter((file) => file.endsWith(".bench.ts"))
  .filter((file) => only.length === 0 || only.some((name) => file.includes(name)))
  .sort();

function report(figure: Figure): void {
  process.stdout.write(`${JSON.stringify(figure)}\n`);
}

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
