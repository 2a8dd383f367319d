/**
 * The environment spec: the one zod schema of what a Zeroplane environment is, as the stacks read
 * it from `zeroplane:*` config (agent-server groups keyed by name) and as `ZeroplanePlatformProps`
 * carries it (constructs/platform.ts, whose sub-specs are checked against these schemas at compile
 * time). The stacks' schema (stacks/environment/schema.ts) is this spec plus the stack-only keys.
 *
 * Messages name the problem and, after {@link FIX}, the fix; loaders print both.
 */
import { z } from "zod";
import { Z85_KEY_PATTERN } from "../runtime/config/names.js";
import { ConstructPropsError } from "./errors.js";
import type {
  AgentServerGroupSpec,
  AllowlistSpec,
  AutoscalingSpec,
  CurveKeySpec,
  ExposureSpec,
  ImageSpec,
  MonitoringSpec,
  NatsClusterSpec,
  NetworkPolicySpec,
  PeerSelectorSpec,
  ResourceSpec,
  ZeroplanePlatformProps,
} from "./platform.js";

/** Separates a rule's problem from its fix inside a zod message. */
export const FIX = " | fix: ";

/** A zod message naming the problem and the fix. */
export function rule(problem: string, fix: string): string {
  return `${problem}${FIX}${fix}`;
}

export const dnsLabel = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    rule("must be a DNS label", "use lowercase letters, digits and '-' (at most 63), e.g. zeroplane-prod"),
  )
  .max(63, rule("must be at most 63 characters", "shorten it"));

export const quantity = z
  .string()
  .regex(
    /^([0-9]+(\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/,
    rule("must be a Kubernetes quantity", "write it like 500m, 2, 512Mi or 10Gi"),
  );

export const cidr = z.union([z.cidrv4(), z.cidrv6()], {
  error: rule("is not a CIDR", "write it like 10.0.0.0/16 or 203.0.113.7/32"),
});

export const z85Key = z
  .string()
  .regex(
    Z85_KEY_PATTERN,
    rule("must be a 40-character Z85 CURVE key", "copy it from `pulumi stack output curvePublicKey`"),
  );

export const labels = z.record(
  z.string().min(1),
  z
    .string()
    .max(63, rule("label values are at most 63 characters", "shorten it"))
    .regex(
      /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/,
      rule("is not a valid label value", "use letters, digits, '-', '_' and '.'"),
    ),
);

/** A whole number of at least `min`; the message names the rule and the fix. */
export function wholeNumber(min: number, fix: string) {
  const message = rule(`must be a whole number of at least ${min}`, fix);
  return z.number().int(message).min(min, message);
}

export const positiveInt = wholeNumber(1, "use 1 or more");

const percentageRule = rule("must be a whole percentage from 10 to 100", "use e.g. 70");
const percentage = z.number().int(percentageRule).min(10, percentageRule).max(100, percentageRule);

const tcpPortRule = rule("is not a TCP port", "use a number from 1 to 65535");
const tcpPort = z.number().int(tcpPortRule).min(1, tcpPortRule).max(65535, tcpPortRule);

export const repository = z
  .string()
  .regex(
    /^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?$/,
    rule("must be an image repository without tag or digest", "e.g. ghcr.io/acme/zeroplane"),
  );

/** An image pinned by exactly one of tag or digest. */
export function pinnedImage<R extends z.ZodType>(repositorySchema: R) {
  return z
    .object({
      repository: repositorySchema,
      tag: z
        .string()
        .regex(
          /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/,
          rule("is not a valid tag", "use a version such as 0.1.0"),
        )
        .refine(
          (tag) => tag !== "latest",
          rule("must be pinned, not 'latest'", "pin a version tag or a digest"),
        )
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
    .superRefine((image, ctx) => {
      if ((image.tag === undefined) !== (image.digest === undefined)) return;
      const message = rule(
        "needs exactly one of tag or digest",
        "set tag (e.g. 0.1.0) or digest (sha256:...), not both",
      );
      issue(ctx, [], message, { tag: image.tag, digest: image.digest });
    });
}

/**
 * A rule that spans fields. `value` is the bad value the message quotes when it is not simply the
 * value at `path` (checkSpec reads it from `params`).
 */
function issue(ctx: z.RefinementCtx, path: PropertyKey[], message: string, value?: unknown): void {
  ctx.addIssue({ code: "custom", path, message, ...(value === undefined ? {} : { params: { value } }) });
}

/** The runtime image. With AWS on, `repository` defaults to the ECR repository the stack creates. */
export const imageSchema = pinnedImage(repository.optional());

export const autoscalingSchema = z
  .object({
    minReplicas: positiveInt,
    maxReplicas: positiveInt,
    cpuUtilization: percentage.optional(),
    memoryUtilization: percentage.optional(),
    activeAgentsPerPod: positiveInt.optional(),
    scaleDownStabilizationSeconds: z.number().int().min(0).optional(),
  })
  .strict()
  .refine((hpa) => hpa.maxReplicas > hpa.minReplicas, {
    message: rule("must be greater than minReplicas", "raise maxReplicas or lower minReplicas"),
    path: ["maxReplicas"],
  });

export const resourcesSchema = z
  .object({
    requests: z.object({ cpu: quantity, memory: quantity }).strict(),
    limits: z.object({ cpu: quantity, memory: quantity }).strict(),
    ephemeralStorage: quantity.optional(),
  })
  .strict();

export const exposureSchema = z.discriminatedUnion(
  "type",
  [
    z.object({ type: z.literal("internal") }).strict(),
    z
      .object({
        type: z.literal("nlb"),
        scheme: z
          .enum(["internal", "internet-facing"], {
            error: rule("is not a load balancer scheme", 'use "internal" or "internet-facing"'),
          })
          .optional(),
        sourceRanges: z
          .array(cidr)
          .min(
            1,
            rule(
              "is empty; a load balancer without source ranges is open to every address that can route to it",
              "add the client networks, e.g. [10.0.0.0/8]",
            ),
          ),
        healthCheckCidrs: z
          .array(cidr)
          .min(1, rule("must list at least one CIDR", "list the VPC CIDR of the NLB's subnets"))
          .optional(),
        crossZone: z.boolean().optional(),
        annotations: z.record(z.string(), z.string()).optional(),
      })
      .strict(),
  ],
  {
    error: rule("is not a known exposure type", "set type: internal, or type: nlb with sourceRanges"),
  },
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
    agentDrainMs: wholeNumber(
      0,
      "set how long running agents may finish on shutdown in milliseconds, e.g. 300000 (0 stops them at once)",
    ).optional(),
    exposure: exposureSchema.optional(),
    workload: z.enum(["Deployment", "StatefulSet"]).optional(),
    minAvailable: wholeNumber(0, "use 0 or more").optional(),
    stateSize: quantity.optional(),
    logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]).optional(),
    podLabels: labels.optional(),
  })
  .strict()
  .refine((group) => !(group.replicas !== undefined && group.autoscaling !== undefined), {
    message: rule(
      "is set together with autoscaling; an HPA-managed workload must not carry static replicas (every apply would fight the HPA)",
      "remove replicas; the HPA owns the replica count",
    ),
    path: ["replicas"],
  });

export const tlsSecretSchema = z.object({ secretName: dnsLabel, verify: z.boolean().optional() }).strict();

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
              .regex(
                /^(nats-leaf|nats|tls|wss?):\/\/.+/,
                rule("is not a leaf node URL", "e.g. tls://hub:7422"),
              ),
            credentialsSecret: dnsLabel.optional(),
            account: z.string().min(1).optional(),
          })
          .strict(),
      )
      .optional(),
    gateways: z
      .array(
        z
          .object({
            name: dnsLabel,
            urls: z
              .array(z.string().min(1))
              .min(
                1,
                rule(
                  "must be one or more nats:// or tls:// URLs",
                  "write them like nats://nats-gw.eu-west-1.example.internal:7222",
                ),
              ),
          })
          .strict(),
      )
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

export const secretStoreRefSchema = z
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

export const allowlistSchema = z.discriminatedUnion(
  "source",
  [
    z
      .object({
        source: z.literal("publicKeys"),
        publicKeys: z.array(
          z
            .string()
            .regex(
              Z85_KEY_PATTERN,
              rule(
                "is not a 40-character Z85 public key",
                "copy the client's public key file (never its secret key)",
              ),
            ),
        ),
      })
      .strict(),
    z.object({ source: z.literal("configMap"), name: dnsLabel }).strict(),
    z.object({ source: z.literal("secret"), name: dnsLabel }).strict(),
  ],
  { error: rule("is not a known allowlist source", 'use "publicKeys", "configMap" or "secret"') },
);

export const peerSchema = z
  .object({ namespaceLabels: labels.optional(), podLabels: labels.optional() })
  .strict();

export const networkPolicySchema = z
  .object({
    clients: z.array(peerSchema).optional(),
    agentEgressCidrs: z.array(cidr).optional(),
    agentEgressPorts: z.array(tcpPort).optional(),
    /** The keygen Job's API server egress; required with curve mode "generated" (checked by the constructs). */
    apiServerCidrs: z
      .array(cidr)
      .min(
        1,
        rule(
          "must list at least one CIDR (an egress rule without peers admits every address)",
          "list the CIDR of the cluster's API endpoint (kubectl get endpoints kubernetes -n default)",
        ),
      )
      .optional(),
  })
  .strict();

export const monitoringSchema = z
  .object({
    enabled: z.boolean(),
    scrapeKind: z
      .enum(["ServiceMonitor", "PodMonitor"], {
        error: rule("is not a prometheus-operator monitor kind", 'use "ServiceMonitor" or "PodMonitor"'),
      })
      .optional(),
    selectorLabels: labels.optional(),
    prometheusNamespaceLabels: labels.optional(),
    prometheusPodLabels: labels.optional(),
    dashboard: z.boolean().optional(),
  })
  .strict();

/** The environment spec's keys, in order; each is one `zeroplane:*` config key. */
export const environmentSpecShape = {
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
};

/** The environment spec alone (no stack-only keys). */
export const environmentSpecSchema = z.object(environmentSpecShape).strict();

export type EnvironmentSpecCore = z.infer<typeof environmentSpecSchema>;
export type AgentServerGroupConfig = z.infer<typeof agentServerGroupSchema>;
export type CurveConfig = z.infer<typeof curveSchema>;

/** One agent-server group as the platform props carry it: the config's group plus its name. */
export const agentServerGroupPropsSchema = agentServerGroupSchema.safeExtend({ name: dnsLabel });

const sharedNamespaceRule = rule(
  "is a namespace shared with other workloads; the default-deny policy would cut them off",
  'use a dedicated namespace such as "zeroplane-prod"',
);

/**
 * `ZeroplanePlatformProps` as a schema: the environment spec with its groups as a list (each with its
 * name), plus the rules that span fields. The platform validates its props against it once, at the
 * top. `curve` is left to the CurveKeys construct: the props' modes carry fields the config resolves
 * (the stacks fill `remoteKey` and `secretStoreRef`, `keygenCommand` is construct-only).
 */
export const platformPropsSchema = z
  .object({
    namespace: dnsLabel.refine((ns) => ns !== "default" && !ns.startsWith("kube-"), sharedNamespaceRule),
    createNamespace: z.boolean().optional(),
    name: dnsLabel
      .max(30, rule("must be at most 30 characters: it prefixes every object name", "shorten it"))
      .optional(),
    image: pinnedImage(repository),
    agentServers: z
      .array(agentServerGroupPropsSchema)
      .min(1, rule("is empty", 'add at least one group, e.g. [{ name: "default" }]')),
    nats: natsSchema.optional(),
    curve: z.custom<CurveKeySpec>((curve) => typeof curve === "object" && curve !== null, {
      error: rule("is missing", 'set curve, e.g. { mode: "generated" }'),
    }),
    allowlist: allowlistSchema.optional(),
    networkPolicy: networkPolicySchema.optional(),
    monitoring: monitoringSchema.optional(),
    labels: labels.optional(),
  })
  .strict()
  .superRefine((props, ctx) => {
    const seen = new Set<string>();
    for (const group of props.agentServers) {
      if (seen.has(group.name)) {
        issue(
          ctx,
          ["agentServers"],
          rule("has two groups with the same name", "give each group a unique name"),
          group.name,
        );
      }
      seen.add(group.name);
    }
    if (props.curve.mode !== "off" && props.allowlist === undefined) {
      issue(
        ctx,
        ["allowlist"],
        rule(
          "is missing while CURVE is on; without an allowlist any client that knows the server's public key could connect",
          'set allowlist to { source: "publicKeys", publicKeys: [...] } or an existing ConfigMap or Secret',
        ),
      );
    }
    if (props.nats?.tls?.client?.verify === true) {
      issue(
        ctx,
        ["nats", "tls", "client", "verify"],
        rule(
          "is true, but the agent servers present no client certificate (they get only the CA), so NATS would refuse them",
          "leave verify off: the agent servers authenticate with nats.auth, and TLS still encrypts and proves the server",
        ),
      );
    }
    // An empty list would be worse than none: an egress rule without peers admits every address.
    if (props.curve.mode === "generated" && props.networkPolicy?.apiServerCidrs === undefined) {
      issue(
        ctx,
        ["networkPolicy", "apiServerCidrs"],
        rule(
          "is required with curve mode 'generated': it is the keygen Job's only egress besides DNS, so without it the Job could reach any address on 443 and 6443",
          'set it to the CIDR of the cluster\'s API endpoint (kubectl get endpoints kubernetes -n default), or to ["0.0.0.0/0"] on a development cluster whose endpoint you do not know',
        ),
      );
    }
  });

/**
 * Compile-time ties between the spec and `ZeroplanePlatformProps`: every value the spec accepts is a
 * valid prop, and the props have no field the spec lacks. A field added to one and not the other
 * fails the build.
 */
type SameFields<Spec, Props> = [Spec] extends [Props]
  ? [Exclude<keyof Props, keyof Spec> | Exclude<keyof Spec, keyof Props>] extends [never]
    ? true
    : { fieldsInOnlyOne: Exclude<keyof Props, keyof Spec> | Exclude<keyof Spec, keyof Props> }
  : { notAssignable: Spec };
type Holds<T extends true> = T;
export type SpecMatchesProps = [
  Holds<SameFields<z.infer<typeof platformPropsSchema>, ZeroplanePlatformProps>>,
  Holds<SameFields<z.infer<typeof imageSchema> & { repository: string }, ImageSpec>>,
  Holds<SameFields<z.infer<typeof autoscalingSchema>, AutoscalingSpec>>,
  Holds<SameFields<z.infer<typeof resourcesSchema>, ResourceSpec>>,
  Holds<SameFields<z.infer<typeof exposureSchema>, ExposureSpec>>,
  Holds<SameFields<AgentServerGroupConfig & { name: string }, AgentServerGroupSpec>>,
  Holds<SameFields<z.infer<typeof natsSchema>, NatsClusterSpec>>,
  Holds<SameFields<z.infer<typeof allowlistSchema>, AllowlistSpec>>,
  Holds<SameFields<z.infer<typeof peerSchema>, PeerSelectorSpec>>,
  Holds<SameFields<z.infer<typeof networkPolicySchema>, NetworkPolicySpec>>,
  Holds<SameFields<z.infer<typeof monitoringSchema>, MonitoringSpec>>,
];

/**
 * Validates props against a spec schema; throws ConstructPropsError at the first issue, its path the
 * zod path (agent-server groups addressed by name, as the config keys them).
 */
export function checkSpec(schema: z.ZodType, value: unknown): void {
  const result = schema.safeParse(value);
  if (result.success) return;
  const first = result.error.issues[0]!;
  const bad =
    first.code === "custom" && first.params !== undefined && "value" in first.params
      ? first.params.value
      : valueAt(value, first.path);
  const path = first.path.map((part, index, all) =>
    // agentServers[0] -> agentServers[<its name>]: groups are keyed by name in the config.
    index === 1 && all[0] === "agentServers" && typeof part === "number"
      ? ((valueAt(value, ["agentServers", part, "name"]) as string | undefined) ?? part)
      : part,
  );
  const [problem, fix] = first.message.includes(FIX)
    ? first.message.split(FIX)
    : [first.message, "see docs/constructs.md"];
  throw new ConstructPropsError(path as (string | number)[], problem!, bad, fix!);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (node, part) => (node as Record<PropertyKey, unknown> | undefined)?.[part],
    root,
  );
}
