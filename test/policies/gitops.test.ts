/**
 * The GitOps path never auto-syncs images that cannot exist (issue 16, item 1): the policy gate knows
 * which deploy/<env> folders an Argo CD Application syncs automatically, and rejects placeholder
 * digests there; npm run synth holds automated sync for stacks that still have placeholders.
 */
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { checkManifests } from "../../policies/cli/check.js";
import { autoSyncedEnvironments } from "../../policies/k8s/gitops.js";
import { renderDeployTree, SYNC_HELD_ANNOTATION } from "../../stacks/gitops/render.js";
import { agentServer, baseline, repoRoot, violationsOf, type Editable } from "./support.js";

const RULE = "no-placeholder-digest-autosync";
const ZEROS = `sha256:${"0".repeat(64)}`;

function application(path: string, automated: boolean, sources = false): Editable {
  const source = { repoURL: "https://git.example.com/zeroplane.git", path };
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Application",
    metadata: { name: "x", namespace: "argocd" },
    spec: {
      ...(sources ? { sources: [source] } : { source }),
      syncPolicy: automated ? { automated: { prune: true } } : {},
    },
  };
}

describe("autoSyncedEnvironments", () => {
  it("names the deploy/<env> folders of automated Applications only", () => {
    expect(
      autoSyncedEnvironments([
        application("deploy/prod", true),
        application("./deploy/staging/", true, true),
        application("deploy/dev", false),
        application("charts/other", true),
      ]),
    ).toEqual(new Set(["prod", "staging"]));
  });
});

describe(RULE, () => {
  function withImage(digest: string): Editable[] {
    const objects = baseline();
    agentServer(objects).container.image = `example.com/zeroplane/runtime@${digest}`;
    return objects;
  }

  it("rejects a placeholder digest only where an automated sync applies it", () => {
    expect(violationsOf(RULE, withImage(ZEROS), { autoSynced: true })).toHaveLength(1);
    expect(violationsOf(RULE, withImage(`sha256:${"f".repeat(64)}`), { autoSynced: true })).toHaveLength(1);
    expect(violationsOf(RULE, withImage(ZEROS), { autoSynced: false })).toEqual([]);
    expect(violationsOf(RULE, baseline(), { autoSynced: true })).toEqual([]);
  });
});

describe("the real deploy tree", () => {
  const tree = renderDeployTree(repoRoot);
  const texts = () => [...tree.entries()].map(([path, text]) => ({ file: `deploy/${path}`, text }));

  it("holds automated sync for prod while its digests are placeholders, and says why", () => {
    const prodApp = parse(tree.get("argocd/application-zeroplane-prod.yaml")!);
    expect(prodApp.spec.syncPolicy.automated).toBeUndefined();
    expect(prodApp.metadata.annotations[SYNC_HELD_ANNOTATION]).toMatch(/zeroplane:image\.digest/);
    const stagingApp = parse(tree.get("argocd/application-zeroplane-staging.yaml")!);
    expect(stagingApp.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    expect(tree.get("prod/deployment-zeroplane-default.yaml")).toContain(ZEROS);
    expect(checkManifests({ texts: texts() }).violations.filter((v) => v.ruleId === RULE)).toEqual([]);
  });

  it("is rejected by the gate once someone turns automated sync back on for prod", () => {
    const edited = texts().map(({ file, text }) => {
      if (!file.endsWith("application-zeroplane-prod.yaml")) return { file, text };
      const app = parse(text);
      app.spec.syncPolicy.automated = { prune: true, selfHeal: true };
      return { file, text: stringify(app) };
    });
    const found = checkManifests({ texts: edited }).violations.filter((v) => v.ruleId === RULE);
    expect(found.length).toBeGreaterThanOrEqual(2);
    expect(new Set(found.map((v) => v.environment))).toEqual(new Set(["prod"]));
    expect(found.map((v) => v.object?.kind)).toEqual(expect.arrayContaining(["Deployment", "StatefulSet"]));
  });
});
