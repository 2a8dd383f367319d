/**
 * The schema of one environment's `zeroplane:*` config in `Pulumi.<env>.yaml`: the environment spec
 * (constructs/spec.ts, shared with the platform) plus the keys only the stacks use (`aws`,
 * `kubernetes`, `gitops`, `production`). Each top-level property is one config key (`namespace` is
 * `zeroplane:namespace`). Messages may carry a fix after {@link FIX}; the loader prints both.
 */
import { z } from "zod";
import {
  FIX,
  cidr,
  dnsLabel,
  environmentSpecShape,
  positiveInt,
  rule,
  type AgentServerGroupConfig,
  type CurveConfig,
} from "../../constructs/spec.js";

export { FIX, type AgentServerGroupConfig, type CurveConfig };

/**
 * The digest the committed files carry until a real build is pinned. It is all zeros so that it can
 * never match a real image; the program warns while it is in use. Replace it with the digest of the
 * image you pushed (`pulumi config set --path 'zeroplane:image.digest' sha256:...`).
 */
export const PLACEHOLDER_DIGEST = `sha256:${"0".repeat(64)}`;

const arn = (what: string, example: string) =>
  z.string().regex(/^arn:aws[a-z-]*:[a-z0-9-]+:/, rule(`must be ${what} ARN`, `e.g. ${example}`));

/** AWS: the ECR repository, the CURVE key in Secrets Manager, its reader role, the NLB security groups. */
export const awsSchema = z.discriminatedUnion(
  "enabled",
  [
    z.object({ enabled: z.literal(false) }).strict(),
    z
      .object({
        enabled: z.literal(true),
        region: z
          .string()
          .regex(/^[a-z]{2}(-[a-z]+)+-[0-9]$/, rule("is not an AWS region", "e.g. eu-west-1")),
        accountId: z
          .string()
          .regex(
            /^[0-9]{12}$/,
            rule("must be a 12-digit AWS account id", 'quote it: accountId: "123456789012"'),
          ),
        ecr: z
          .object({
            /** @default the platform name */
            repositoryName: z
              .string()
              .regex(/^[a-z0-9][a-z0-9._/-]*$/, rule("is not an ECR name", "e.g. zeroplane"))
              .optional(),
            /** Tagged images kept by the lifecycle policy. @default 30 */
            keepImages: positiveInt.optional(),
            /** Days before untagged images expire. @default 7 */
            untaggedExpiryDays: positiveInt.optional(),
          })
          .strict()
          .optional(),
        irsa: z
          .object({
            oidcProviderArn: arn(
              "an IAM OIDC provider",
              "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE",
            ),
            oidcProviderUrl: z
              .string()
              .regex(
                /^https:\/\/[^\s]+$/,
                rule("must be the cluster's OIDC issuer URL", "copy it from `aws eks describe-cluster`"),
              ),
          })
          .strict(),
        /** VPC of the cluster; needed for the NLB security groups. */
        vpcId: z
          .string()
          .regex(/^vpc-[0-9a-f]+$/, rule("is not a VPC id", "e.g. vpc-0abc1234"))
          .optional(),
        /** CIDR of that VPC: where the NLB forwards to (pod IPs). */
        vpcCidr: cidr.optional(),
        /** Days Secrets Manager keeps a deleted secret. @default 30 */
        secretRecoveryWindowDays: z.number().int().min(7).max(30).optional(),
        /** Days before a deleted KMS key is destroyed. @default 30 */
        kmsDeletionWindowDays: z.number().int().min(7).max(30).optional(),
        /** Tags on every AWS resource. @default none */
        tags: z.record(z.string(), z.string()).optional(),
      })
      .strict(),
  ],
  { error: rule("enabled must be true or false", "set zeroplane:aws.enabled") },
);

/** The cluster Pulumi deploys to. Synthesis ignores it. */
export const kubernetesSchema = z
  .object({
    /**
     * A kubeconfig file's path, or its contents (set those as a secret:
     * `pulumi config set --secret --path 'zeroplane:kubernetes.kubeconfig' "$(cat kubeconfig)"`).
     * @default $KUBECONFIG or ~/.kube/config
     */
    kubeconfig: z.string().min(1).optional(),
    /** Context in that kubeconfig. @default its current-context */
    context: z.string().min(1).optional(),
  })
  .strict();

/** GitOps: an Argo CD Application for `deploy/<env>`. */
export const gitopsSchema = z
  .object({
    argocd: z
      .object({
        repoURL: z.string().min(1),
        /** @default "main" */
        targetRevision: z.string().min(1).optional(),
        /** @default "default" */
        project: z.string().min(1).optional(),
        /** Namespace Argo CD runs in. @default "argocd" */
        namespace: dnsLabel.optional(),
        /** Sync automatically, pruning and self-healing. @default true */
        automated: z.boolean().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** Every `zeroplane:*` key: the environment spec plus the stack-only keys. Unknown keys are errors. */
export const environmentSchema = z
  .object({
    /** Turns on the production guards (pinned images, replicated and authenticated NATS, 2+ servers). */
    production: z.boolean().optional(),
    ...environmentSpecShape,
    aws: awsSchema.optional(),
    kubernetes: kubernetesSchema.optional(),
    gitops: gitopsSchema.optional(),
  })
  .strict();

export type EnvironmentSpec = z.infer<typeof environmentSchema>;
export type AwsConfig = z.infer<typeof awsSchema>;
export type AwsEnabledConfig = Extract<AwsConfig, { enabled: true }>;

/** The config keys, in schema order (`namespace` is `zeroplane:namespace`). */
export const ENVIRONMENT_KEYS = Object.keys(environmentSchema.shape) as (keyof EnvironmentSpec)[];
