/** The AWS resources the stacks create: ECR, Secrets Manager, IAM. */
import type { AwsRule, Finding } from "../core/types.js";
import { at, hasValue, isRecord, list, str } from "../k8s/read.js";

export const ECR_REPOSITORY = "aws:ecr/repository:Repository";
export const SECRETS_MANAGER_SECRET = "aws:secretsmanager/secret:Secret";
export const IAM_POLICY = "aws:iam/policy:Policy";
export const IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
export const IAM_ROLE = "aws:iam/role:Role";
export const IAM_USER_POLICY = "aws:iam/userPolicy:UserPolicy";
export const IAM_GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy";

/** A policy document may be a JSON string (Pulumi's usual form) or an object. */
function parseDocument(document: unknown): unknown {
  if (typeof document !== "string") return document;
  try {
    return JSON.parse(document) as unknown;
  } catch {
    return undefined;
  }
}

/** Why each Allow statement of a policy document grants wildcard actions. */
function wildcardGrants(document: unknown): string[] {
  const parsed = parseDocument(document);
  if (parsed === undefined)
    return typeof document === "string" ? ["the policy document is not valid JSON"] : [];
  const statements = Array.isArray(at(parsed, "Statement"))
    ? list(at(parsed, "Statement"))
    : [at(parsed, "Statement")];
  const reasons: string[] = [];
  statements.forEach((statement, index) => {
    if (!isRecord(statement) || str(statement.Effect) !== "Allow") return;
    if (statement.NotAction !== undefined)
      reasons.push(`statement ${index} allows NotAction (everything else)`);
    const actions = typeof statement.Action === "string" ? [statement.Action] : list(statement.Action);
    for (const action of actions) {
      if (typeof action === "string" && (action === "*" || /^[A-Za-z0-9-]+:\*$/.test(action))) {
        reasons.push(`statement ${index} allows "${action}"`);
      }
    }
  });
  return reasons;
}

export const awsRules: readonly AwsRule[] = [
  {
    id: "ecr-immutable-tags",
    severity: "error",
    scope: "aws",
    resourceTypes: [ECR_REPOSITORY],
    description: "ECR repositories have immutable tags (a pushed tag can never point at other bytes).",
    fix: 'Set imageTagMutability: "IMMUTABLE".',
    checks: [],
    check: (r) =>
      str(r.props.imageTagMutability) === "IMMUTABLE"
        ? []
        : [
            {
              message: `imageTagMutability is ${str(r.props.imageTagMutability) ?? "unset (MUTABLE)"}`,
              path: ["imageTagMutability"],
            },
          ],
  },
  {
    id: "ecr-scan-on-push",
    severity: "error",
    scope: "aws",
    resourceTypes: [ECR_REPOSITORY],
    description: "ECR repositories scan every image on push.",
    fix: "Set imageScanningConfiguration: { scanOnPush: true }.",
    checks: [],
    check: (r) =>
      at(r.props, "imageScanningConfiguration", "scanOnPush") === true
        ? []
        : [
            {
              message: "imageScanningConfiguration.scanOnPush is not true",
              path: ["imageScanningConfiguration", "scanOnPush"],
            },
          ],
  },
  {
    id: "secretsmanager-kms",
    severity: "error",
    scope: "aws",
    resourceTypes: [SECRETS_MANAGER_SECRET],
    description: "Secrets Manager secrets are encrypted with a customer-managed KMS key (kmsKeyId set).",
    fix: "Create an aws.kms.Key (with rotation) and set kmsKeyId to its ARN.",
    checks: [],
    check: (r) => {
      return !hasValue(r.props, "kmsKeyId")
        ? [{ message: "kmsKeyId is not set (the AWS-managed key is used)", path: ["kmsKeyId"] }]
        : [];
    },
  },
  {
    id: "iam-no-wildcard-actions",
    severity: "error",
    scope: "aws",
    resourceTypes: [IAM_POLICY, IAM_ROLE_POLICY, IAM_USER_POLICY, IAM_GROUP_POLICY, IAM_ROLE],
    description: "No IAM policy allows wildcard actions ('*' or 'service:*') or NotAction.",
    fix: 'List the exact actions needed, for example ["secretsmanager:GetSecretValue"] on the one secret ARN.',
    checks: [],
    check: (r) => {
      const findings: Finding[] = [];
      if (r.type === IAM_ROLE) {
        list(r.props.inlinePolicies).forEach((inline, index) => {
          for (const reason of wildcardGrants(at(inline, "policy"))) {
            findings.push({
              message: `inline policy "${str(at(inline, "name")) ?? index}": ${reason}`,
              path: ["inlinePolicies", index, "policy"],
            });
          }
        });
      } else {
        for (const reason of wildcardGrants(r.props.policy))
          findings.push({ message: reason, path: ["policy"] });
      }
      return findings;
    },
  },
];
