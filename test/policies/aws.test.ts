/** The AWS rules, through the engine and through their CrossGuard policies (unknownCheckingProxy). */
import { describe, expect, it } from "vitest";
import {
  ECR_REPOSITORY,
  IAM_POLICY,
  IAM_ROLE,
  IAM_ROLE_POLICY,
  SECRETS_MANAGER_SECRET,
} from "../../policies/rules/aws.js";
import { RULES } from "../../policies/rules/index.js";
import { awsViolationsOf, crossguardViolations } from "./support.js";

const readSecret = JSON.stringify({
  Version: "2012-10-17",
  Statement: [
    {
      Effect: "Allow",
      Action: ["secretsmanager:GetSecretValue"],
      Resource: "arn:aws:secretsmanager:eu-west-1:210987654321:secret:curve",
    },
  ],
});
const policyWith = (statement: object) => JSON.stringify({ Version: "2012-10-17", Statement: statement });

interface AwsCase {
  readonly rule: string;
  readonly pass: { type: string; props: Record<string, unknown> }[];
  readonly fail: { type: string; props: Record<string, unknown> }[];
}

const cases: readonly AwsCase[] = [
  {
    rule: "ecr-immutable-tags",
    pass: [
      {
        type: ECR_REPOSITORY,
        props: { imageTagMutability: "IMMUTABLE", imageScanningConfiguration: { scanOnPush: true } },
      },
    ],
    fail: [
      { type: ECR_REPOSITORY, props: { imageScanningConfiguration: { scanOnPush: true } } },
      { type: ECR_REPOSITORY, props: { imageTagMutability: "MUTABLE" } },
    ],
  },
  {
    rule: "ecr-scan-on-push",
    pass: [
      {
        type: ECR_REPOSITORY,
        props: { imageTagMutability: "IMMUTABLE", imageScanningConfiguration: { scanOnPush: true } },
      },
    ],
    fail: [
      { type: ECR_REPOSITORY, props: { imageTagMutability: "IMMUTABLE" } },
      { type: ECR_REPOSITORY, props: { imageScanningConfiguration: { scanOnPush: false } } },
    ],
  },
  {
    rule: "secretsmanager-kms",
    pass: [
      { type: SECRETS_MANAGER_SECRET, props: { kmsKeyId: "arn:aws:kms:eu-west-1:210987654321:key/1234" } },
    ],
    fail: [
      { type: SECRETS_MANAGER_SECRET, props: {} },
      { type: SECRETS_MANAGER_SECRET, props: { kmsKeyId: "" } },
    ],
  },
  {
    rule: "iam-no-wildcard-actions",
    pass: [
      { type: IAM_POLICY, props: { policy: readSecret } },
      { type: IAM_ROLE_POLICY, props: { policy: JSON.parse(readSecret) as object } },
      {
        type: IAM_ROLE,
        props: { assumeRolePolicy: readSecret, inlinePolicies: [{ name: "read", policy: readSecret }] },
      },
      { type: IAM_POLICY, props: { policy: policyWith([{ Effect: "Deny", Action: "*", Resource: "*" }]) } },
    ],
    fail: [
      { type: IAM_POLICY, props: { policy: policyWith([{ Effect: "Allow", Action: "*", Resource: "*" }]) } },
      {
        type: IAM_ROLE_POLICY,
        props: {
          policy: policyWith({
            Effect: "Allow",
            Action: ["s3:GetObject", "secretsmanager:*"],
            Resource: "*",
          }),
        },
      },
      {
        type: IAM_ROLE,
        props: {
          inlinePolicies: [
            { name: "admin", policy: policyWith([{ Effect: "Allow", Action: "iam:*", Resource: "*" }]) },
          ],
        },
      },
      {
        type: IAM_POLICY,
        props: { policy: policyWith([{ Effect: "Allow", NotAction: "iam:*", Resource: "*" }]) },
      },
      { type: IAM_POLICY, props: { policy: "{not json" } },
    ],
  },
];

describe("AWS rules", () => {
  it("each have a passing and a failing case here", () => {
    const covered = new Set(cases.map((c) => c.rule));
    expect(RULES.filter((r) => r.scope === "aws" && !covered.has(r.id)).map((r) => r.id)).toEqual([]);
  });

  for (const c of cases) {
    describe(c.rule, () => {
      it("passes compliant resources and reports each non-compliant one", () => {
        for (const [index, r] of c.pass.entries())
          expect(awsViolationsOf(c.rule, [{ ...r, name: `pass-${index}` }])).toEqual([]);
        for (const [index, r] of c.fail.entries()) {
          const violations = awsViolationsOf(c.rule, [{ ...r, name: `fail-${index}` }]);
          expect(violations.length, JSON.stringify(r.props)).toBeGreaterThan(0);
          expect(violations[0]?.resource).toEqual({ type: r.type, name: `fail-${index}` });
        }
      });

      it("reports the same through its CrossGuard policy with proxied props", async () => {
        const named = (list: AwsCase["pass"], prefix: string) =>
          list.map((r, index) => ({ ...r, name: `${prefix}-${index}` }));
        expect(await crossguardViolations(c.rule, named(c.pass, "pass"))).toEqual([]);
        const reported = await crossguardViolations(c.rule, named(c.fail, "fail"));
        expect(reported.length).toBeGreaterThanOrEqual(c.fail.length);
      });
    });
  }

  it("ignore Kubernetes and other resource types", async () => {
    expect(
      await crossguardViolations("ecr-immutable-tags", [
        { type: "aws:s3/bucket:Bucket", name: "b", props: {} },
      ]),
    ).toEqual([]);
  });
});
