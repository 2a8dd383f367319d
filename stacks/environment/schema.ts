/**
 * The schema of one environment's spec, as written under `zeroplane:*` in `Pulumi.<env>.yaml`.
 *
 * Each top-level property is one config key (`namespace` is `zeroplane:namespace`). The shapes
 * follow `ZeroplanePlatformProps` (constructs/platform.ts) so the spec passes to the platform
 * almost unchanged; the keys that only the stacks use (`aws`, `kubernetes`, `gitops`, `production`)
 * are described here. Messages may carry a fix after {@link FIX}; the loader prints both.
 */
import { z } from "zod";
import { Z85_KEY_PATTERN } from "../../runtime/config/names.js";

/** Separates a rule's problem from its fix inside a zod message. */
export const FIX = " | fix: ";

/** A zod message naming the problem and the fix. */
function rule(problem: string, fix: string): string {
  return `${problem}${FIX}${fix}`;
}

/**
 * The digest the committed files carry until a real build is pinned. It is all zeros so that it can
 * never match a real image; the program warns while it is in use. Replace it with the digest of the
 * image you pushed (`pulumi config set --path 'zeroplane:image.digest' sha256:...`).
 */
export const PLACEHOLDER_DIGEST = `sha256:${"0".repeat(64)}`;

const dnsLabel = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    rule("must be a DNS label", "use lowercase letters, digits and '-' (at most 63), e.g. zeroplane-prod"),
  )
  .max(63, rule("must be at most 63 characters", "shorten it"));

const quantity = z
  .string()
  .regex(
    /^([0-9]+(\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/,
    rule("must be a Kubernetes quantity", "write it like 500m, 2, 512Mi or 10Gi"),
  );

const cidr = z.union([z.cidrv4(), z.cidrv6()], {
  error: rule("must be a CIDR", "write it like 10.0.0.0/16 or 203.0.113.7/32"),
});

const z85Key = z
  .string()
  .regex(
    Z85_KEY_PATTERN,
    rule("must be a 40-character Z85 CURVE key", "copy it from `pulumi stack output curvePublicKey`"),
  );

const labels = z.record(
  z.string().min(1),
  z
    .string()
    .max(63, rule("label values are at most 63 characters", "shorten it"))
    .regex(
      /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/,
      rule("is not a valid label value", "use letters, digits, '-', '_' and '.'"),
    ),
);

const positiveInt = z.number().int().min(1, rule("must be a whole number of at least 1", "use 1 or more"));

const repository = z
  .string()
  .regex(
    /^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?$/,
    rule("must be an image repository without tag or digest", "e.g. ghcr.io/acme/zeroplane"),
  );

/** An image pinned by exactly one of tag or digest. */
function pinnedImage<R extends z.ZodType>(repositorySchema: R) {
  return z
    .object({
      repository: repositorySchema,
      tag: z
        .string()
        .regex(
          /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/,
          rule("is not a valid tag", "use a version such as 0.1.0"),
        )
        .refine((tag) => tag !== "latest", rule("must not be 'latest'", "pin a version tag or a digest"))
        .optional(),
      digest: z
        .string()
        .regex(
          /^sha256:[a-f0-9]{64}$/,
          rule("must be a sha256 digest", "write it as sha256:<64 lowercase hex characters>"),
        )
        .optional(),
    })
    .strict()
    .refine(
      (image) => (image.tag === undefined) !== (image.digest === undefined),
      rule("needs exactly one of tag or digest", "set tag (e.g. 0.1.0) or digest (sha256:...), not both"),
    );
}

/** The runtime image. With AWS on, `repository` defaults to the ECR repository the stack creates. */
export const imageSchema = pinnedImage(repository.optional());

const autoscalingSchema = z
  .object({
    minReplicas: positiveInt,
    maxReplicas: positiveInt,
    cpuUtilization: z.number().int().min(1).max(100).optional(),
    memoryUtilization: z.number().int().min(1).max(100).optional(),
    activeAgentsPerPod: positiveInt.optional(),
    scaleDownStabilizationSeconds: z.number().int().min(0).optional(),
  })
  .strict()
  .refine(
    (hpa) => hpa.maxReplicas > hpa.minReplicas,
    rule("maxReplicas must be greater than minReplicas", "raise maxReplicas or lower minReplicas"),
  );

const resourcesSchema = z
  .object({
    requests: z.object({ cpu: quantity, memory: quantity }).strict(),
    limits: z.object({ cpu: quantity, memory: quantity }).strict(),
    ephemeralStorage: quantity.optional(),
  })
  .strict();

const exposureSchema = z.discriminatedUnion(
  "type",
  [
    z.object({ type: z.literal("internal") }).strict(),
    z
      .object({
        type: z.literal("nlb"),
        scheme: z.enum(["internal", "internet-facing"]).optional(),
        sourceRanges: z
          .array(cidr)
          .min(1, rule("must list at least one CIDR", "add the client networks, e.g. [10.0.0.0/8]")),
        crossZone: z.boolean().optional(),
        annotations: z.record(z.string(), z.string()).optional(),
      })
      .strict(),
  ],
  { error: rule("type must be 'internal' or 'nlb'", "set type: internal, or type: nlb with sourceRanges") },
);

/** One agent-server group; the group's name is its key under `zeroplane:agentServers`. */
export const agentServerGroupSchema = z
  .object({
    replicas: positiveInt.optional(),
    autoscaling: autoscalingSchema.optional(),
    resources: resourcesSchema.optional(),
    runnerResources: resourcesSchema.optional(),
    maxAgents: positiveInt.optional(),
    shutdownGraceMs: positiveInt.optional(),
    agentDrainMs: z.number().int().min(0).optional(),
    exposure: exposureSchema.optional(),
    workload: z.enum(["Deployment", "StatefulSet"]).optional(),
    minAvailable: z.number().int().min(0).optional(),
    stateSize: quantity.optional(),
    logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]).optional(),
    podLabels: labels.optional(),
  })
  .strict()
  .refine(
    (group) => !(group.replicas !== undefined && group.autoscaling !== undefined),
    rule("sets both replicas and autoscaling", "remove replicas; the HPA owns the replica count"),
  );

const tlsSecretSchema = z.object({ secretName: dnsLabel, verify: z.boolean().optional() }).strict();

export const natsSchema = z
  .object({
    replicas: z
      .number()
      .int()
      .min(1, rule("must be at least 1", "use 1 for development, 3 or 5 for production")),
    jetstream: z
      .union([
        z.literal(false),
        z
          .object({
            storageSize: quantity,
            storageClassName: z.string().min(1).optional(),
            memoryStoreSize: quantity.optional(),
          })
          .strict(),
      ])
      .optional(),
    resources: z.object({ cpu: quantity, memory: quantity }).strict().optional(),
    image: pinnedImage(repository).optional(),
    /** The Prometheus exporter sidecar's image (when monitoring is on). */
    exporterImage: pinnedImage(repository).optional(),
    auth: z.object({ secretName: dnsLabel }).strict().optional(),
    tls: z
      .object({ client: tlsSecretSchema.optional(), cluster: tlsSecretSchema.optional() })
      .strict()
      .optional(),
    leafnodeRemotes: z
      .array(
        z
          .object({
            url: z
              .string()
              .regex(/^(nats-leaf|nats|tls|wss?):\/\/.+/, rule("must be a URL", "e.g. tls://hub:7422")),
            credentialsSecret: dnsLabel.optional(),
            account: z.string().min(1).optional(),
          })
          .strict(),
      )
      .optional(),
    gateways: z
      .array(z.object({ name: dnsLabel, urls: z.array(z.string().min(1)).min(1) }).strict())
      .optional(),
    remoteCidrs: z.array(cidr).optional(),
    exporter: z.boolean().optional(),
  })
  .strict()
  .refine(
    (nats) =>
      nats.jetstream === false || nats.replicas === 1 || (nats.replicas >= 3 && nats.replicas % 2 === 1),
    {
      message: rule(
        "must be 1 or an odd number of at least 3 (JetStream needs a quorum)",
        "use 1 for development, 3 or 5 for production",
      ),
      path: ["replicas"],
    },
  );

const secretStoreRefSchema = z
  .object({ name: dnsLabel, kind: z.enum(["SecretStore", "ClusterSecretStore"]).optional() })
  .strict();

/**
 * Where the server's CURVE keypair comes from. `external` reads it through an ExternalSecret; with
 * AWS on, the stack generates the keypair once and stores it in Secrets Manager under `remoteKey`.
 */
export const curveSchema = z.discriminatedUnion(
  "mode",
  [
    z.object({ mode: z.literal("generated") }).strict(),
    z
      .object({
        mode: z.literal("external"),
        /** @default `zeroplane/<env>/curve-server-key` */
        remoteKey: z
          .string()
          .regex(
            /^[A-Za-z0-9/_+=.@-]{1,512}$/,
            rule("is not a Secrets Manager name", "use letters, digits and /_+=.@-"),
          )
          .optional(),
        /** @default a SecretStore named `<name>-aws` that the stack creates (AWS on) */
        secretStoreRef: secretStoreRefSchema.optional(),
        refreshInterval: z
          .string()
          .regex(/^[0-9]+(s|m|h)$/, rule("is not a duration", "e.g. 1h"))
          .optional(),
        publicKey: z85Key.optional(),
      })
      .strict(),
    z.object({ mode: z.literal("existing"), secretName: dnsLabel, publicKey: z85Key.optional() }).strict(),
    z
      .object({
        mode: z.literal("off"),
        acceptPlaintext: z.literal(true, {
          error: rule(
            "must be true to run without CURVE",
            "set acceptPlaintext: true, or choose another mode",
          ),
        }),
      })
      .strict(),
  ],
  { error: rule("mode must be generated, external, existing or off", "e.g. mode: external") },
);

const allowlistSchema = z.discriminatedUnion(
  "source",
  [
    z.object({ source: z.literal("publicKeys"), publicKeys: z.array(z85Key) }).strict(),
    z.object({ source: z.literal("configMap"), name: dnsLabel }).strict(),
    z.object({ source: z.literal("secret"), name: dnsLabel }).strict(),
  ],
  { error: rule("source must be publicKeys, configMap or secret", "e.g. source: configMap with name") },
);

const peerSchema = z
  .object({ namespaceLabels: z.record(z.string(), z.string()).optional(), podLabels: labels.optional() })
  .strict();

const networkPolicySchema = z
  .object({
    clients: z.array(peerSchema).optional(),
    agentEgressCidrs: z.array(cidr).optional(),
    agentEgressPorts: z.array(z.number().int().min(1).max(65535)).optional(),
    apiServerCidrs: z.array(cidr).optional(),
  })
  .strict();

const monitoringSchema = z
  .object({
    enabled: z.boolean(),
    scrapeKind: z.enum(["ServiceMonitor", "PodMonitor"]).optional(),
    selectorLabels: labels.optional(),
    prometheusNamespaceLabels: z.record(z.string(), z.string()).optional(),
    prometheusPodLabels: z.record(z.string(), z.string()).optional(),
    dashboard: z.boolean().optional(),
  })
  .strict();

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

/** Every `zeroplane:*` key. Unknown keys are errors. */
export const environmentSchema = z
  .object({
    /** Turns on the production guards (pinned images, replicated and authenticated NATS, 2+ servers). */
    production: z.boolean().optional(),
    namespace: dnsLabel.refine((ns) => ns !== "default", rule("must not be 'default'", "use e.g. zeroplane")),
    name: dnsLabel.optional(),
    image: imageSchema,
    agentServers: z
      .record(dnsLabel, agentServerGroupSchema)
      .refine(
        (groups) => Object.keys(groups).length > 0,
        rule("needs at least one group", "add e.g. default: {}"),
      ),
    nats: natsSchema.optional(),
    curve: curveSchema,
    allowlist: allowlistSchema.optional(),
    networkPolicy: networkPolicySchema.optional(),
    monitoring: monitoringSchema.optional(),
    labels: labels.optional(),
    aws: awsSchema.optional(),
    kubernetes: kubernetesSchema.optional(),
    gitops: gitopsSchema.optional(),
  })
  .strict();

export type EnvironmentSpec = z.infer<typeof environmentSchema>;
export type AgentServerGroupConfig = z.infer<typeof agentServerGroupSchema>;
export type AwsConfig = z.infer<typeof awsSchema>;
export type AwsEnabledConfig = Extract<AwsConfig, { enabled: true }>;
export type CurveConfig = z.infer<typeof curveSchema>;

/** The config keys, in schema order (`namespace` is `zeroplane:namespace`). */
export const ENVIRONMENT_KEYS = Object.keys(environmentSchema.shape) as (keyof EnvironmentSpec)[];
