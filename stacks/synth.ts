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
import { renderDeployTree, type FileTree } from "./gitops/render.js";

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

const USAGE = `usage: npm run synth -- [--check] [--env <name>] [--project <dir>] [--out <dir>]

Renders every Pulumi.<env>.yaml into deploy/<env>/ (deploy/ is wiped first).
  --check          render into a temporary folder and compare with deploy/; exit 1 with a unified
                   diff of every drifted file and the names of missing and extra ones
  --env <name>     only this environment: writes (or checks) deploy/<name>/ and leaves the rest
  --project <dir>  folder with the Pulumi.<env>.yaml files (default: this repository)
  --out <dir>      output folder (default: <project>/deploy)
Exit codes: 0 written or up to date, 1 drift (--check), 2 bad arguments or stack files.`;

/** The part of a rendered tree under `<env>/`, with that prefix removed. */
function environmentTree(tree: FileTree, env: string): FileTree {
  const prefix = `${env}/`;
  const subtree: FileTree = new Map();
  for (const [path, content] of tree)
    if (path.startsWith(prefix)) subtree.set(path.slice(prefix.length), content);
  if (subtree.size === 0) {
    const known = [...new Set([...tree.keys()].map((path) => path.split("/")[0]))].join(", ");
    throw new Error(`no environment "${env}" in the stack files. Fix: use one of ${known}.`);
  }
  return subtree;
}

/** A unified diff (3 lines of context) from the committed text to the fresh one. */
export function unifiedDiff(path: string, committed: string, fresh: string): string {
  const a = committed.split("\n");
  const b = fresh.split("\n");
  // Longest common subsequence table, from the end: manifests are a few hundred lines at most.
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: Array<{ kind: " " | "-" | "+"; text: string; aLine: number; bLine: number }> = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ kind: " ", text: a[i++]!, aLine: i, bLine: ++j });
    } else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      ops.push({ kind: "-", text: a[i++]!, aLine: i, bLine: j });
    } else {
      ops.push({ kind: "+", text: b[j++]!, aLine: i, bLine: j });
    }
  }
  const out = [`--- ${path} (committed)`, `+++ ${path} (fresh synthesis)`];
  const changed = ops.map((op, index) => (op.kind === " " ? -1 : index)).filter((index) => index >= 0);
  let k = 0;
  while (k < changed.length) {
    const start = Math.max(0, changed[k]! - 3);
    let end = changed[k]!;
    while (k < changed.length && changed[k]! - 3 <= end + 3) end = changed[k++]!;
    const hunk = ops.slice(start, Math.min(ops.length, end + 4));
    const aCount = hunk.filter((op) => op.kind !== "+").length;
    const bCount = hunk.filter((op) => op.kind !== "-").length;
    const aStart = hunk.find((op) => op.kind !== "+")?.aLine ?? 1;
    const bStart = hunk.find((op) => op.kind !== "-")?.bLine ?? 1;
    out.push(`@@ -${aStart},${aCount} +${bStart},${bCount} @@`, ...hunk.map((op) => `${op.kind}${op.text}`));
  }
  return out.join("\n");
}

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      check: { type: "boolean" },
      project: { type: "string" },
      out: { type: "string" },
      env: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const projectDir = resolve(values.project ?? join(fileURLToPath(import.meta.url), "..", ".."));
  const baseOutDir = resolve(values.out ?? join(projectDir, "deploy"));
  const outDir = values.env ? join(baseOutDir, values.env) : baseOutDir;
  const shown = relative(process.cwd(), outDir) || ".";
  for (const warning of placeholderWarnings(projectDir)) console.warn(warning);
  const rendered = renderDeployTree(projectDir);
  const tree = values.env ? environmentTree(rendered, values.env) : rendered;
  if (values.check) {
    const committed = readTree(outDir);
    const drift = compareTrees(committed, tree);
    if (hasDrift(drift)) {
      for (const path of drift.drifted)
        console.error(unifiedDiff(join(shown, path), committed.get(path)!, tree.get(path)!));
      console.error(describeDrift(drift, shown));
      return 1;
    }
    console.log(`${shown} matches a fresh synthesis.`);
    return 0;
  }
  writeTree(outDir, tree);
  console.log(`wrote ${tree.size} files to ${shown}`);
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
