/** CI gate through the CrossGuard pack: the prod Pulumi program (AWS and Kubernetes) under mocks. */
import { describe, expect, it } from "vitest";
import { mandatoryViolations, registeredResources } from "./pulumi-stack.js";

describe("the prod stack under the CrossGuard pack", () => {
  it("registers ECR, Secrets Manager, IAM and Kubernetes resources with no mandatory violation", async () => {
    const resources = await registeredResources("prod");
    const types = new Set(resources.map((r) => r.type));
    for (const type of [
      "aws:ecr/repository:Repository",
      "aws:secretsmanager/secret:Secret",
      "aws:iam/rolePolicy:RolePolicy",
      "kubernetes:apps/v1:StatefulSet",
    ]) {
      expect(types, type).toContain(type);
    }
    expect(await mandatoryViolations("prod", resources)).toEqual([]);
  });
});
