import { beforeAll, describe, expect, it } from "vitest";
import { AWS_RESOURCE_TYPES, ofType, runStack, strings, type StackRun } from "./support/stack-harness.js";

let run: StackRun;
beforeAll(async () => {
  run = await runStack("staging");
}, 120_000);

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are untyped JSON
const k8sObject = (type: string, name: string): Record<string, any> => {
  const found = ofType(run, type).find((r) => r.name === `zeroplane-staging/${name}`);
  expect(found, `${type} ${name}`).toBeDefined();
  return found!.inputs;
};

describe("the staging stack", () => {
  it("has the full AWS inventory: repository, key, secret, reader role, NLB security group", () => {
    const inventory = run.resources
      .filter((r) => r.type.startsWith("aws:") || r.type.startsWith("pulumi-nodejs:dynamic"))
      .map((r) => r.type)
      .sort();
    expect(inventory).toEqual([...AWS_RESOURCE_TYPES, "pulumi-nodejs:dynamic/zeroplane:CurveServerKey"]);
  });

  it("runs three NATS servers and two to four agent servers behind an internal NLB", () => {
    expect(k8sObject("kubernetes:apps/v1:StatefulSet", "zeroplane-nats").spec.replicas).toBe(3);
    const hpa = k8sObject("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "zeroplane-default").spec;
    expect([hpa.minReplicas, hpa.maxReplicas]).toEqual([2, 4]);
    const service = k8sObject("kubernetes:core/v1:Service", "zeroplane-default-public");
    expect(service.metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"]).toBe(
      "internal",
    );
    expect(service.spec.loadBalancerSourceRanges).toEqual(["10.0.0.0/8"]);
  });

  it("uses the ECR repository it creates for the image", () => {
    const image = k8sObject("kubernetes:apps/v1:Deployment", "zeroplane-default").spec.template.spec
      .containers[0].image;
    expect(image).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com/zeroplane-staging:0.1.0");
    expect(run.resolved.imageRepositoryUrl).toBe(
      "123456789012.dkr.ecr.eu-west-1.amazonaws.com/zeroplane-staging",
    );
  });

  it("keeps the generated secret key out of every plaintext input and output", () => {
    const secretKey = run.generatedSecretKeys[0]!;
    expect(secretKey).toHaveLength(40);
    const leaks = run.resources.filter((r) =>
      strings(r.inputs).some((s) => s.text.includes(secretKey) && !s.secret),
    );
    expect(leaks.map((r) => r.name)).toEqual([]);
    expect(JSON.stringify(run.resolved)).not.toContain(secretKey);
    expect(run.resolved.curvePublicKey).toBe(run.generatedPublicKeys[0]);
  });
});
