/**
 * The one loader of environment specs. Pulumi hands it `new pulumi.Config("zeroplane")` values
 * (see pulumi.ts); synthesis hands it a parsed `Pulumi.<env>.yaml` (no Pulumi engine). Either way,
 * the same schema and the same cross-checks run, and a bad value fails with its key and the fix.
 */
import { readFileSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { FIX, PLACEHOLDER_DIGEST, environmentSchema, type EnvironmentSpec } from "./schema.js";

/** The Pulumi config namespace of every key: `zeroplane:namespace`, `zeroplane:nats`, ... */
export const CONFIG_NAMESPACE = "zeroplane";

/** A validated environment: the spec plus its name and where it came from. */
export interface Environment extends EnvironmentSpec {
  /** The environment (and Pulumi stack) name, e.g. `prod`. */
  readonly environment: string;
  /** Where the spec was read from, for messages: `Pulumi.prod.yaml` or `stack prod`. */
  readonly source: string;
  /** The platform name: object name prefix, NATS cluster name. */
  readonly platformName: string;
}

/** A bad environment spec. The message names the key, the bad value and the fix. */
export class EnvironmentConfigError extends Error {
  constructor(
    /** Full config key, e.g. `zeroplane:nats.replicas`. */
    readonly key: string,
    problem: string,
    readonly value: unknown,
    fix: string,
    source: string,
  ) {
    super(`${source}: ${key} ${problem}; got ${describe(value)}. Fix: ${fix}`);
    this.name = "EnvironmentConfigError";
  }
}

function describe(value: unknown): string {
  return value === undefined ? "nothing (the key is missing)" : JSON.stringify(value);
}

const ENVIRONMENT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Validates one environment's `zeroplane:*` values (keys without the namespace prefix).
 * @param environment the stack / environment name, e.g. `prod`
 * @param values values keyed by short key: `{ namespace: "zeroplane", nats: { replicas: 3 } }`
 * @param source where the values came from, for messages
 */
export function parseEnvironment(
  environment: string,
  values: Record<string, unknown>,
  source: string,
): Environment {
  if (!ENVIRONMENT_NAME.test(environment)) {
    throw new EnvironmentConfigError(
      "environment name",
      "must be a DNS label",
      environment,
      "name the stack (and its Pulumi.<env>.yaml) with lowercase letters, digits and '-', e.g. prod",
      source,
    );
  }
  const result = environmentSchema.safeParse(values);
  if (!result.success) throw issueToError(result.error.issues[0]!, values, environment, source);
  const env: Environment = {
    ...result.data,
    environment,
    source,
    platformName: result.data.name ?? "zeroplane",
  };
  crossCheck(env);
  return env;
}

/** Turns a zod issue into an EnvironmentConfigError with the full key and a fix. */
function issueToError(issue: z.core.$ZodIssue, values: Record<string, unknown>, env: string, source: string) {
  let path = [...issue.path];
  let value = valueAt(values, path);
  let [problem, fix] = issue.message.includes(FIX) ? issue.message.split(FIX) : [issue.message, undefined];
  if (issue.code === "unrecognized_keys") {
    const known = Object.keys((valueAt(values, path) ?? {}) as object).filter((k) => !issue.keys.includes(k));
    path = [...path, issue.keys[0]!];
    value = valueAt(values, path);
    problem = "is not a known setting";
    fix = `remove it or correct its spelling${known.length ? ` (set here: ${known.join(", ")})` : ""}; see docs/stacks.md for every key`;
  } else if (issue.code === "invalid_type" && value === undefined) {
    problem = "is required";
  }
  const key = configKey(path);
  fix ??= `set a valid value in Pulumi.${env}.yaml, or run: pulumi config set --path '${key}' <value> --stack ${env}`;
  return new EnvironmentConfigError(key, problem!, value, fix, source);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (node, part) =>
      node !== null && typeof node === "object" ? (node as Record<PropertyKey, unknown>)[part] : undefined,
    root,
  );
}

/** `["nats", "replicas"]` -> `zeroplane:nats.replicas`; list indexes as `[0]`. */
export function configKey(path: readonly PropertyKey[]): string {
  let key = CONFIG_NAMESPACE + ":";
  path.forEach((part, i) => {
    key += typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`;
  });
  return key;
}

/** Rules that span keys, and the production guards. */
function crossCheck(env: Environment): void {
  const fail = (path: PropertyKey[], problem: string, fix: string): never => {
    throw new EnvironmentConfigError(configKey(path), problem, valueAt(env, path), fix, env.source);
  };
  const awsOn = env.aws?.enabled === true;
  if (env.image.repository === undefined && !awsOn) {
    fail(["image", "repository"], "is required when AWS is off", "set it, e.g. ghcr.io/acme/zeroplane");
  }
  if (env.curve.mode === "external" && env.curve.secretStoreRef === undefined && !awsOn) {
    fail(
      ["curve", "secretStoreRef"],
      "is required for curve mode 'external' when AWS is off (the stack only creates a store for AWS)",
      "name your SecretStore or ClusterSecretStore, or turn on zeroplane:aws",
    );
  }
  const groups = Object.entries(env.agentServers);
  const nlbGroup = groups.find(([, spec]) => spec.exposure?.type === "nlb")?.[0];
  if (env.aws?.enabled && nlbGroup !== undefined) {
    for (const key of ["vpcId", "vpcCidr"] as const) {
      if (env.aws[key] !== undefined) continue;
      fail(
        ["aws", key],
        `is required: agent-server group "${nlbGroup}" is exposed through an NLB, whose security group lives in the VPC`,
        "set zeroplane:aws.vpcId and zeroplane:aws.vpcCidr to the cluster's VPC",
      );
    }
  }
  if (!env.production) return;
  const guard = "production: true";
  if (env.image.digest === undefined) {
    fail(
      ["image", "digest"],
      `is required with ${guard}: tags can move, digests cannot`,
      "pin the image by digest",
    );
  }
  if (env.nats === undefined || env.nats.jetstream === false || env.nats.replicas < 3) {
    fail(
      ["nats", "replicas"],
      `must be 3 or more with JetStream on with ${guard} (stream replicas R3 need three servers)`,
      "set nats.replicas: 3 and keep jetstream on",
    );
  }
  if (env.nats !== undefined && env.nats.auth === undefined) {
    fail(
      ["nats", "auth"],
      `is required with ${guard}: agent servers run arbitrary agent commands, and without authentication any of them could read or publish every NATS subject`,
      "create a Secret with keys user and password (docs/stacks.md) and set zeroplane:nats.auth.secretName to its name",
    );
  }
  for (const key of ["image", "exporterImage"] as const) {
    if (env.nats !== undefined && env.nats[key]?.digest === undefined) {
      fail(
        ["nats", key],
        `must be pinned by digest with ${guard}: the default NATS images are tagged, and tags can move`,
        `set zeroplane:nats.${key} to { repository, digest: sha256:<64 hex> }`,
      );
    }
  }
  if (env.curve.mode === "off" || env.curve.mode === "generated") {
    fail(
      ["curve", "mode"],
      `must be 'external' or 'existing' with ${guard}, so the key lives outside the cluster`,
      "use mode: external (AWS Secrets Manager)",
    );
  }
  for (const [group, spec] of groups) {
    const min = spec.autoscaling?.minReplicas ?? spec.replicas ?? 2;
    if (min < 2) {
      fail(
        ["agentServers", group, spec.autoscaling ? "autoscaling" : "replicas"],
        `must keep at least 2 servers with ${guard}`,
        spec.autoscaling ? "set autoscaling.minReplicas: 2 or more" : "set replicas: 2 or more",
      );
    }
    if (
      spec.exposure?.type === "nlb" &&
      spec.exposure.sourceRanges.some((r) => /^(0\.0\.0\.0|::)\/0$/.test(r))
    ) {
      fail(
        ["agentServers", group, "exposure", "sourceRanges"],
        `must not open the load balancer to the whole internet with ${guard}`,
        "list the client networks only",
      );
    }
  }
}

/** Full config keys whose digest is the committed all-zeros placeholder, e.g. `zeroplane:image.digest`. */
export function placeholderDigestKeys(env: Environment): string[] {
  const images: [PropertyKey[], { digest?: string } | undefined][] = [
    [["image"], env.image],
    [["nats", "image"], env.nats?.image],
    [["nats", "exporterImage"], env.nats?.exporterImage],
  ];
  return images
    .filter(([, image]) => image?.digest === PLACEHOLDER_DIGEST)
    .map(([path]) => configKey([...path, "digest"]));
}

/** True while an image digest is the committed placeholder (synthesis and non-production stacks warn). */
export function usesPlaceholderDigest(env: Environment): boolean {
  return placeholderDigestKeys(env).length > 0;
}

/**
 * The deploy-time guard: with `production: true`, a placeholder digest is an error (no such image
 * exists, so every pod would fail to pull). Synthesis does not call it: deploy/<env> is a template.
 */
export function checkDeployableDigests(env: Environment): void {
  if (!env.production) return;
  const [key] = placeholderDigestKeys(env);
  if (key === undefined) return;
  throw new EnvironmentConfigError(
    key,
    "is the all-zeros placeholder with production: true; no such image exists, so every pod would fail to pull it",
    PLACEHOLDER_DIGEST,
    `set the digest of the image you pushed or mirrored: pulumi config set --path '${key}' sha256:<64 hex> --stack ${env.environment}`,
    env.source,
  );
}

/** A stack file `Pulumi.<env>.yaml`, read as Pulumi would: its `config` map, keys with namespaces. */
export function readStackConfigFile(path: string): Record<string, unknown> {
  let document: unknown;
  try {
    document = parseYaml(readFileSync(path, "utf8"));
  } catch (error) {
    throw new EnvironmentConfigError(
      "file",
      `cannot be read as YAML (${(error as Error).message})`,
      path,
      "fix the YAML syntax",
      basename(path),
    );
  }
  const config = (document as { config?: unknown } | null)?.config;
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new EnvironmentConfigError(
      "config",
      "must be a mapping of zeroplane:* keys",
      config,
      "start the file with `config:` and the keys below it",
      basename(path),
    );
  }
  return config as Record<string, unknown>;
}

/** Loads `Pulumi.<env>.yaml` without Pulumi: for synthesis and tests. */
export function loadEnvironmentFile(path: string): Environment {
  const file = basename(path);
  const environment = /^Pulumi\.(.+)\.ya?ml$/.exec(file)?.[1];
  if (environment === undefined) {
    throw new EnvironmentConfigError("file", "is not named Pulumi.<env>.yaml", file, "rename it", file);
  }
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(readStackConfigFile(path))) {
    if (!key.startsWith(`${CONFIG_NAMESPACE}:`)) continue; // provider settings such as aws:region
    const short = key.slice(CONFIG_NAMESPACE.length + 1);
    // Cluster access matters only to `pulumi up`, and may hold an encrypted kubeconfig.
    if (short === "kubernetes") continue;
    if (value !== null && typeof value === "object" && "secure" in value) {
      throw new EnvironmentConfigError(
        key,
        "is encrypted, but the environment spec holds no secrets (synthesis reads it without Pulumi)",
        "[secure]",
        "keep secrets out of zeroplane:* except zeroplane:kubernetes.kubeconfig (the CURVE key is generated into Pulumi state and Secrets Manager)",
        file,
      );
    }
    values[short] = value;
  }
  return parseEnvironment(environment, values, file);
}

/** Every `Pulumi.<env>.yaml` in a directory, sorted by environment name. */
export function environmentFiles(dir: string): { environment: string; path: string }[] {
  return readdirSync(dir)
    .map((file) => ({ file, match: /^Pulumi\.(.+)\.yaml$/.exec(file) }))
    .filter((entry): entry is { file: string; match: RegExpExecArray } => entry.match !== null)
    .map(({ file, match }) => ({ environment: match[1]!, path: join(dir, file) }))
    .sort((a, b) => (a.environment < b.environment ? -1 : a.environment > b.environment ? 1 : 0));
}
