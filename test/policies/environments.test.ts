/**
 * CI gate: the kit's own output for every environment has zero error-level violations. The
 * environments are synthesized in memory exactly as `npm run synth` writes deploy/<env>/.
 */
import { describe, expect, it } from "vitest";
import { checkManifests, type CheckReport } from "../../policies/cli/check.js";
import { renderDeployTree } from "../../stacks/gitops/render.js";
import { environmentFiles } from "../../stacks/environment/load.js";
import { repoRoot } from "./support.js";

function describeErrors(report: CheckReport): string[] {
  return report.violations
    .filter((v) => v.severity === "error")
    .map(
      (v) =>
        `${v.location?.file ?? "?"}:${v.location?.line ?? "?"} ${v.ruleId} ${v.object?.kind ?? ""} ${v.object?.name ?? ""}: ${v.message}`,
    );
}

describe("every environment's synthesized manifests", () => {
  const tree = renderDeployTree(repoRoot);
  const report = checkManifests({
    texts: [...tree.entries()].map(([path, text]) => ({ file: `deploy/${path}`, text })),
  });

  it("are read without input problems", () => {
    expect(report.problems).toEqual([]);
  });

  it("cover every Pulumi.<env>.yaml, with production rules on for prod", () => {
    const expected = environmentFiles(repoRoot).map((e) => e.environment);
    expect(expected.length).toBeGreaterThan(0);
    for (const name of expected) {
      const environment = report.environments.find((e) => e.name === name);
      expect(environment?.objects, name).toBeGreaterThan(0);
      expect(environment?.production, name).toBe(name === "prod");
    }
  });

  it("have zero error-level violations", () => {
    expect(describeErrors(report)).toEqual([]);
  });
});
