/**
 * `npm run synth`: renders every `Pulumi.<env>.yaml` into `deploy/` (wiped first).
 * `npm run synth -- --check`: renders into a temporary folder and compares it with `deploy/`;
 * exits 1 naming every drifted, missing or extra file.
 *
 * Options: `--project <dir>` (where the stack files are; default: this repository's root),
 * `--out <dir>` (default: `<project>/deploy`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { environmentFiles, loadEnvironmentFile, placeholderDigestKeys } from "./environment/load.js";
import { compareTrees, hasDrift, readTree, writeTree, type TreeDrift } from "./gitops/files.js";
import { renderDeployTree } from "./gitops/render.js";

export interface SynthOptions {
  /** Folder holding `Pulumi.<env>.yaml`. */
  readonly projectDir: string;
  /** Output folder. @default `<projectDir>/deploy` */
  readonly outDir?: string;
}

/** Writes `deploy/`. Returns the number of files written. */
export function synth(options: SynthOptions): number {
  const tree = renderDeployTree(options.projectDir);
  writeTree(options.outDir ?? join(options.projectDir, "deploy"), tree);
  return tree.size;
}

/** Synthesizes into a temporary folder and compares it with the committed output. */
export function check(options: SynthOptions): TreeDrift {
  const scratch = mkdtempSync(join(tmpdir(), "zeroplane-synth-"));
  try {
    writeTree(scratch, renderDeployTree(options.projectDir));
    return compareTrees(readTree(options.outDir ?? join(options.projectDir, "deploy")), readTree(scratch));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** One warning per environment whose stack file still carries a placeholder image digest. */
export function placeholderWarnings(projectDir: string): string[] {
  return environmentFiles(projectDir).flatMap(({ path }) => {
    const env = loadEnvironmentFile(path);
    const keys = placeholderDigestKeys(env);
    if (keys.length === 0) return [];
    const refused = env.production ? "; `pulumi up` refuses it (production: true)" : "";
    return [
      `warning: ${env.source}: ${keys.join(", ")} ${keys.length === 1 ? "is" : "are"} the all-zeros placeholder digest, so deploy/${env.environment} is a template${refused}. Fix: pulumi config set --path '${keys[0]}' sha256:<64 hex> --stack ${env.environment}`,
    ];
  });
}

/** The report `--check` prints. */
export function describeDrift(drift: TreeDrift, outDir: string): string {
  const lines = [`${outDir} is out of date with the stack files:`];
  for (const path of drift.drifted) lines.push(`  drifted: ${path}`);
  for (const path of drift.missing) lines.push(`  missing: ${path}`);
  for (const path of drift.extra) lines.push(`  extra:   ${path}`);
  lines.push("Fix: run `npm run synth` and commit deploy/ (never edit deploy/ by hand).");
  return lines.join("\n");
}

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { check: { type: "boolean" }, project: { type: "string" }, out: { type: "string" } },
  });
  const projectDir = resolve(values.project ?? join(fileURLToPath(import.meta.url), "..", ".."));
  const outDir = resolve(values.out ?? join(projectDir, "deploy"));
  const shown = relative(process.cwd(), outDir) || ".";
  for (const warning of placeholderWarnings(projectDir)) console.warn(warning);
  if (values.check) {
    const drift = check({ projectDir, outDir });
    if (hasDrift(drift)) {
      console.error(describeDrift(drift, shown));
      return 1;
    }
    console.log(`${shown} matches a fresh synthesis.`);
    return 0;
  }
  const count = synth({ projectDir, outDir });
  console.log(`wrote ${count} files to ${shown}`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
  }
}
