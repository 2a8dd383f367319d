/**
 * Preview: values that depend on other resources' outputs are unknown, and @pulumi/policy's
 * unknownCheckingProxy throws UnknownValueError when a policy reads one. The pack must never fail
 * with another error, must not call an unknown value compliant, and must still report what it can
 * see. CrossGuard turns the UnknownValueError into an advisory "can't run during preview"; the
 * update re-runs the policy with known values.
 */
import { UnknownValueError } from "@pulumi/policy";
import * as proxy from "@pulumi/policy/proxy.js";
import { describe, expect, it } from "vitest";
import { ENV_VARS } from "../../runtime/config/index.js";
import { ECR_REPOSITORY, IAM_ROLE_POLICY, SECRETS_MANAGER_SECRET } from "../../policies/rules/aws.js";
import { RULES } from "../../policies/rules/index.js";
import { agentServer, asPulumiResources, baseline, crossguardViolations, find } from "./support.js";

// The sentinels the Pulumi engine sends for unknown values; marked @internal, so not in the typings.
const { unknownArrayValue, unknownObjectValue, unknownStringValue } = proxy as unknown as Record<
  "unknownArrayValue" | "unknownObjectValue" | "unknownStringValue",
  string
>;

async function outcome(promise: Promise<unknown>): Promise<"ok" | "unknown" | Error> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    return error instanceof UnknownValueError ? "unknown" : (error as Error);
  }
}

describe("CrossGuard policies under unknown values", () => {
  it("every policy either runs or raises UnknownValueError when the agent server's image, env and spec are unknown", async () => {
    const variants = [
      (o: ReturnType<typeof baseline>) => void (agentServer(o).container.image = unknownStringValue),
      (o: ReturnType<typeof baseline>) => void (agentServer(o).container.env = unknownArrayValue),
      (o: ReturnType<typeof baseline>) => void (agentServer(o).deployment.spec = unknownObjectValue),
      (o: ReturnType<typeof baseline>) =>
        void (find(o, "Service", "agent-server").spec.selector = unknownObjectValue),
      (o: ReturnType<typeof baseline>) =>
        void (find(o, "ConfigMap", "nats-config").data = unknownObjectValue),
    ];
    for (const [index, variant] of variants.entries()) {
      const objects = baseline();
      variant(objects);
      for (const rule of RULES.filter((r) => r.scope !== "aws")) {
        const result = await outcome(crossguardViolations(rule.id, asPulumiResources(objects), "prod"));
        expect(
          result instanceof Error ? `${rule.id} (variant ${index}): ${result.message}` : "no crash",
        ).toBe("no crash");
      }
    }
  });

  it("does not call an unknown image pinned: the policy defers to the update", async () => {
    const objects = baseline();
    agentServer(objects).container.image = unknownStringValue;
    expect(await outcome(crossguardViolations("image-tag-pinned", asPulumiResources(objects), "prod"))).toBe(
      "unknown",
    );
    expect(await outcome(crossguardViolations("image-digest-prod", asPulumiResources(objects), "prod"))).toBe(
      "unknown",
    );
  });

  it("does not call an unknown CURVE setting on an exposed server safe", async () => {
    const objects = baseline();
    agentServer(objects).container.env.find(
      (e: { name: string }) => e.name === ENV_VARS["security.curve"],
    ).value = unknownStringValue;
    expect(await outcome(crossguardViolations("lb-requires-curve", asPulumiResources(objects), "prod"))).toBe(
      "unknown",
    );
  });

  it("still reports a violation it can see when an unrelated field is unknown", async () => {
    const objects = baseline();
    agentServer(objects).container.image = unknownStringValue;
    agentServer(objects).container.securityContext.privileged = true;
    const reported = await crossguardViolations("pss-privileged", asPulumiResources(objects), "prod");
    expect(reported).toHaveLength(1);
    expect(reported[0]?.message).toMatch(/container "server" is privileged/);
  });

  it("counts an unknown KMS key id as set (it is an output of the key), and an unknown policy document as unverifiable", async () => {
    expect(
      await crossguardViolations("secretsmanager-kms", [
        { type: SECRETS_MANAGER_SECRET, name: "curve", props: { kmsKeyId: unknownStringValue } },
      ]),
    ).toEqual([]);
    expect(
      await outcome(
        crossguardViolations("iam-no-wildcard-actions", [
          { type: IAM_ROLE_POLICY, name: "read", props: { policy: unknownStringValue } },
        ]),
      ),
    ).toBe("unknown");
    expect(
      await outcome(
        crossguardViolations("ecr-immutable-tags", [
          { type: ECR_REPOSITORY, name: "repo", props: { imageTagMutability: unknownStringValue } },
        ]),
      ),
    ).toBe("unknown");
  });

  it("passes known-good objects whose names and unrelated fields are unknown", async () => {
    const objects = baseline();
    find(objects, "ConfigMap", "agent-server-public-key").data = unknownObjectValue;
    expect(await crossguardViolations("pss-privileged", asPulumiResources(objects), "prod")).toEqual([]);
    expect(
      await crossguardViolations("netpol-selects-every-pod", asPulumiResources(objects), "prod"),
    ).toEqual([]);
  });
});

describe("rules over malformed objects", () => {
  it("never throw: wrong types read as absent", async () => {
    const { checkObjects } = await import("../../policies/core/engine.js");
    const { ruleContext } = await import("../../policies/core/context.js");
    const malformed = [
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: "oops",
        spec: { template: { spec: { containers: "nope", volumes: [1, null] } } },
      },
      {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name: 5, labels: [] },
        spec: {
          replicas: "three",
          template: {
            metadata: { labels: { a: 1 } },
            spec: { containers: [null, 3, { name: 7, env: "x", ports: {}, securityContext: "no" }] },
          },
        },
      },
      {
        apiVersion: "v1",
        kind: "Service",
        spec: { type: "LoadBalancer", selector: "x", loadBalancerSourceRanges: "0.0.0.0/0" },
      },
      {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        spec: {
          podSelector: { matchExpressions: [{ key: "a", operator: "Bogus" }, null] },
          policyTypes: "Ingress",
        },
      },
      { apiVersion: "policy/v1", kind: "PodDisruptionBudget", spec: { selector: null, minAvailable: "x" } },
      {
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        spec: { scaleTargetRef: "x", minReplicas: "2" },
      },
      { apiVersion: "v1", kind: "ConfigMap", data: { a: 1, b: null } },
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", rules: [null, { verbs: "x" }] },
      { apiVersion: "batch/v1", kind: "CronJob", spec: { jobTemplate: null } },
    ];
    const violations = checkObjects(
      malformed.map((object) => ({ object })),
      ruleContext({ environment: "prod", source: "manifests" }),
    );
    expect(violations.filter((v) => v.message.includes("could not evaluate"))).toEqual([]);
    expect(violations.length).toBeGreaterThan(0);
  });
});
