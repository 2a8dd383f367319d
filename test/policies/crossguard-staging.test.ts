/** CI gate through the CrossGuard pack: the staging Pulumi program (AWS and Kubernetes) under mocks (one file per stack: Pulumi's runtime state is per process). */
import { describe, expect, it } from "vitest";
import {
  expectedKubernetesObjects,
  mandatoryViolations,
  registeredKubernetesObjects,
  registeredResources,
} from "./pulumi-stack.js";

describe("the staging stack under the CrossGuard pack", () => {
  it("registers its AWS resources and every Kubernetes object, with no mandatory violation", async () => {
    const resources = await registeredResources("staging");
    // The complete set, not a prefix of it: every object the environment synthesizes was registered.
    const expected = expectedKubernetesObjects("staging");
    expect(expected.length).toBeGreaterThan(15);
    expect(registeredKubernetesObjects(resources)).toEqual(expected);
    const awsTypes = [...new Set(resources.filter((r) => r.type.startsWith("aws:")).map((r) => r.type))];
    expect(awsTypes.sort()).toEqual([
      "aws:ec2/securityGroup:SecurityGroup",
      "aws:ecr/lifecyclePolicy:LifecyclePolicy",
      "aws:ecr/repository:Repository",
      "aws:iam/role:Role",
      "aws:iam/rolePolicy:RolePolicy",
      "aws:kms/alias:Alias",
      "aws:kms/key:Key",
      "aws:secretsmanager/secret:Secret",
      "aws:secretsmanager/secretVersion:SecretVersion",
    ]);
    expect(await mandatoryViolations("staging", resources)).toEqual([]);
  });
});
