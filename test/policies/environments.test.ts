/**
 * CI gate: the kit's own output for every environment has zero error-level violations. The
 * environments are synthesized in memory exactly as `npm run synth` writes deploy/<env>/.
 */
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ENV_VARS } from "../../runtime/config/index.js";
import { checkManifests, type CheckReport } from "../../policies/cli/check.js";
import { renderDeployTree } from "../../stacks/gitops/render.js";
import { environmentFiles } from "../../stacks/environment/load.js";
import { repoRoot, type Editable } from "./support.js";

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

describe("the gate over the real prod output", () => {
  const tree = renderDeployTree(repoRoot);
  const prodFiles = [...tree.entries()].filter(([path]) => path.startsWith("prod/"));

  /** The prod manifests with the agent-server Deployment edited. */
  function withDeployment(edit: (container: Editable) => void) {
    return prodFiles.map(([path, text]) => {
      const object = parse(text) as Editable;
      if (object?.kind === "Deployment") edit(object.spec.template.spec.containers[0]);
      return { file: `deploy/${path}`, text: stringify(object) };
    });
  }

  it("catches CURVE turned off behind the internet-facing load balancer", () => {
    const texts = withDeployment((container) => {
      container.env.find((e: Editable) => e.name === ENV_VARS["security.curve"]).value = "false";
    });
    expect(checkManifests({ texts }).violations.map((v) => v.ruleId)).toContain("lb-requires-curve");
  });

  it("catches a JetStream stream below R3", () => {
    const texts = withDeployment((container) => {
      container.env = container.env.filter((e: Editable) => e.name !== ENV_VARS["nats.replicas"]);
    });
    expect(checkManifests({ texts }).violations.map((v) => v.ruleId)).toContain("nats-prod-stream-replicas");
  });
});
