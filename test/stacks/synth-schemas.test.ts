import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderDeployTree, type FileTree } from "../../stacks/gitops/render.js";
import { validateObject } from "../support/k8s-schema.js";

const PROJECT_DIR = join(import.meta.dirname, "..", "..");
let tree: FileTree;
beforeAll(() => {
  tree = renderDeployTree(PROJECT_DIR);
}, 120_000);

describe("the synthesized manifests of every environment", () => {
  it("writes objects that all validate against the strict Kubernetes 1.27 and CRD schemas", () => {
    const errors: string[] = [];
    const unvalidated: string[] = [];
    for (const [path, content] of tree) {
      if (path.endsWith("kustomization.yaml")) continue;
      const object = parse(content);
      if (object.kind === "SecretStore") {
        unvalidated.push(path); // no vendored SecretStore schema: its exact shape is asserted below
        continue;
      }
      errors.push(...validateObject(object).map((error) => `${path}: ${error}`));
    }
    expect(errors).toEqual([]);
    expect(unvalidated).toEqual([
      "prod/secretstore-zeroplane-aws.yaml",
      "staging/secretstore-zeroplane-aws.yaml",
    ]);
  });

  it("writes the SecretStore that authenticates to Secrets Manager as the IRSA service account", () => {
    const store = parse(tree.get("prod/secretstore-zeroplane-aws.yaml")!);
    expect(store).toEqual({
      apiVersion: "external-secrets.io/v1",
      kind: "SecretStore",
      metadata: {
        name: "zeroplane-aws",
        namespace: "zeroplane-prod",
        labels: {
          "app.kubernetes.io/component": "secret-store",
          "app.kubernetes.io/managed-by": "zeroplane-stacks",
          "app.kubernetes.io/name": "zeroplane",
          "app.kubernetes.io/part-of": "zeroplane",
        },
      },
      spec: {
        provider: {
          aws: {
            service: "SecretsManager",
            region: "eu-west-1",
            auth: { jwt: { serviceAccountRef: { name: "zeroplane-secrets" } } },
          },
        },
      },
    });
  });
});
