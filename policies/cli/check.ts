/**
 * The manifests front-end: load files, group them by environment, run the rule set on each group.
 * Objects from `deploy/<env>/` folders are grouped by <env>, so one run over `deploy/` never lets
 * dev's NetworkPolicy "cover" prod's pods.
 */
import { resolve, sep } from "node:path";
import { ruleContext } from "../core/context.js";
import { checkObjects, type SourcedObject } from "../core/engine.js";
import type { Violation } from "../core/types.js";
import { autoSyncedEnvironments } from "../k8s/gitops.js";
import { loadManifests, parseManifestText, type InputProblem } from "./manifests.js";

export interface CheckOptions {
  /** Files or folders to read. */
  readonly paths?: readonly string[];
  /** Manifests already in memory (file name for reports and deploy/<env> grouping, YAML text). */
  readonly texts?: readonly { readonly file: string; readonly text: string }[];
  /** Overrides the environment inferred from `deploy/<env>/` paths. */
  readonly environment?: string;
  readonly allowedRegistries?: readonly string[];
}

export interface EnvironmentSummary {
  /** Undefined when neither --env nor a deploy/<env> path says. */
  readonly name: string | undefined;
  readonly production: boolean;
  /** How the name was chosen. */
  readonly from: "flag" | "path" | "unspecified";
  readonly files: number;
  readonly objects: number;
}

export interface ReportedViolation extends Violation {
  readonly environment?: string;
}

export interface CheckReport {
  readonly environments: readonly EnvironmentSummary[];
  readonly violations: readonly ReportedViolation[];
  readonly problems: readonly InputProblem[];
  readonly files: number;
  readonly objects: number;
}

/** The <env> in `.../deploy/<env>/...`, when the file lies in such a folder. */
export function environmentFromPath(file: string): string | undefined {
  const parts = resolve(file).split(sep);
  const index = parts.lastIndexOf("deploy");
  return index >= 0 && index < parts.length - 2 ? parts[index + 1] : undefined;
}

export function checkManifests(options: CheckOptions): CheckReport {
  const loaded = loadManifests(options.paths ?? []);
  const problems = [...loaded.problems];
  const files = [
    ...loaded.files,
    ...(options.texts ?? []).map(({ file, text }) => parseManifestText(file, text, problems)),
  ];
  const groups = new Map<string, { files: number; objects: SourcedObject[] }>();
  for (const file of files) {
    const key = environmentFromPath(file.file) ?? "";
    const group = groups.get(key) ?? { files: 0, objects: [] };
    group.files += 1;
    group.objects.push(...file.objects);
    groups.set(key, group);
  }
  // Applications anywhere in the input (deploy/argocd) mark the deploy/<env> folders they auto-sync.
  const autoSynced = autoSyncedEnvironments(files.flatMap((file) => file.objects.map((o) => o.object)));
  const environments: EnvironmentSummary[] = [];
  const violations: ReportedViolation[] = [];
  for (const [inferred, group] of [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const name = options.environment ?? (inferred || undefined);
    const context = ruleContext({
      environment: name,
      allowedRegistries: options.allowedRegistries ?? [],
      source: "manifests",
      autoSynced: autoSynced.has(inferred),
    });
    environments.push({
      name,
      production: context.production,
      from: options.environment ? "flag" : inferred ? "path" : "unspecified",
      files: group.files,
      objects: group.objects.length,
    });
    for (const v of checkObjects(group.objects, context))
      violations.push(name ? { ...v, environment: name } : v);
  }
  violations.sort(compareViolations);
  return {
    environments,
    violations,
    problems,
    files: files.length,
    objects: environments.reduce((sum, e) => sum + e.objects, 0),
  };
}

function sortKey(v: ReportedViolation): string {
  return [v.location?.file ?? "", String(v.location?.line ?? 0).padStart(8, "0"), v.ruleId, v.message].join(
    "\u0000",
  );
}

function compareViolations(a: ReportedViolation, b: ReportedViolation): number {
  const keyA = sortKey(a);
  const keyB = sortKey(b);
  return keyA < keyB ? -1 : keyA > keyB ? 1 : 0;
}

/** 2 for bad input, 1 for error-level violations, 0 otherwise. */
export function exitCodeOf(report: CheckReport): 0 | 1 | 2 {
  if (report.problems.some((p) => p.severity === "error")) return 2;
  return report.violations.some((v) => v.severity === "error") ? 1 : 0;
}
