/**
 * Policy check time over every environment's manifests (what a GitOps pipeline runs on deploy/).
 * The manifests come from the stacks' in-memory synthesis (the same bytes `npm run synth` writes);
 * if that is unavailable, from the policy test fixture, and the note says so. The reference is
 * parsing the same YAML alone: no check can be faster than reading its input.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LineCounter, parseAllDocuments } from "yaml";
import { checkManifests, environmentFromPath } from "../policies/cli/check.js";
import { ruleContext } from "../policies/core/context.js";
import { checkObjects, type SourcedObject } from "../policies/core/engine.js";
import type { K8sObject } from "../policies/core/types.js";
import { KNOWN_KINDS } from "../policies/k8s/kinds.js";
import { median, round, type Report } from "./report.js";

const root = join(fileURLToPath(import.meta.url), "..", "..");
const RUNS = 15;

async function manifests(): Promise<{ texts: { file: string; text: string }[]; source: string }> {
  try {
    const { renderDeployTree } = await import("../stacks/gitops/render.js");
    const tree = renderDeployTree(root);
    return {
      texts: [...tree.entries()].map(([path, text]) => ({ file: `deploy/${path}`, text })),
      source: "stacks' in-memory synthesis of every environment",
    };
  } catch (error) {
    const file = join(root, "test", "policies", "fixtures", "compliant", "platform.yaml");
    return {
      texts: ["dev", "staging", "prod"].map((env) => ({
        file: `deploy/${env}/platform.yaml`,
        text: readFileSync(file, "utf8"),
      })),
      source: `the policy test fixture as three environments (synthesis unavailable: ${(error as Error).message})`,
    };
  }
}

/** Medians of `RUNS` timings of each function, measured interleaved so that load spikes hit both alike. */
function timeInterleaved(...runs: (() => void)[]): number[] {
  for (const run of runs) run(); // warm-up: JIT and lazy module state
  const samples: number[][] = runs.map(() => []);
  for (let i = 0; i < RUNS; i += 1) {
    runs.forEach((run, index) => {
      const start = performance.now();
      run();
      samples[index]!.push(performance.now() - start);
    });
  }
  return samples.map((s) => median(s));
}

export async function run(report: Report): Promise<void> {
  const { texts, source } = await manifests();
  const first = checkManifests({ texts });
  const objects = first.objects;
  const environments = first.environments.map((e) => e.name).join(", ");

  const lines = new LineCounter();
  const [full, parseOnly] = timeInterleaved(
    () => void checkManifests({ texts }),
    () => {
      for (const { text } of texts)
        for (const document of parseAllDocuments(text, { lineCounter: lines })) document.toJS();
    },
  ) as [number, number];
  report({
    name: "policy.check_all_environments",
    value: round(full, 2),
    unit: "ms",
    baseline: round(parseOnly, 2),
    ratio: round(full / parseOnly, 2),
    note: `median of ${RUNS}; ${texts.length} files, ${objects} objects (${environments}) from ${source}; baseline = parsing the same YAML only`,
  });

  const groups = new Map<string, SourcedObject[]>();
  for (const { file, text } of texts) {
    const group = groups.get(environmentFromPath(file) ?? "") ?? [];
    for (const document of parseAllDocuments(text)) {
      const object = document.toJS() as K8sObject | null;
      if (object && KNOWN_KINDS.has(object.kind)) group.push({ object });
    }
    groups.set(environmentFromPath(file) ?? "", group);
  }
  const counted = [...groups.values()].reduce((sum, g) => sum + g.length, 0);
  const context = ruleContext({ environment: "prod", source: "manifests" });
  const [rulesOnly] = timeInterleaved(() => {
    for (const group of groups.values()) checkObjects(group, context);
  }) as [number];
  report({
    name: "policy.rules_per_object",
    value: round((rulesOnly * 1000) / Math.max(1, counted), 1),
    unit: "us",
    note: `median of ${RUNS}; every rule (production rules on) over ${counted} pre-parsed objects, one set per environment; set rules grow with the square of objects per environment`,
  });
}
