/**
 * Environment spec -> `ZeroplanePlatformProps`. Pure and deterministic: synthesis and the Pulumi
 * program call it with the same environment and get the same props, hence the same manifests.
 */
import type {
  AgentServerGroupSpec,
  CurveKeySpec,
  ExposureSpec,
  ZeroplanePlatformProps,
} from "../constructs/index.js";
import { environmentSpecShape, type EnvironmentSpecCore } from "../constructs/spec.js";
import type { Environment } from "./environment/load.js";
import type { AgentServerGroupConfig } from "./environment/schema.js";
import { awsNames, curveRemoteKey, kubernetesNames } from "./names.js";

const LBC = "service.beta.kubernetes.io/aws-load-balancer";

export function platformProps(env: Environment): ZeroplanePlatformProps {
  // The environment spec's keys carry over as they are, but for those resolved here.
  const spec = Object.fromEntries(
    Object.keys(environmentSpecShape).map((key) => [key, env[key as keyof EnvironmentSpecCore]]),
  ) as EnvironmentSpecCore;
  return dropUndefined({
    ...spec,
    name: env.platformName,
    createNamespace: true,
    image: {
      // The loader requires a repository when AWS is off; with AWS on it defaults to the ECR repository.
      repository: env.image.repository ?? (env.aws?.enabled ? awsNames(env, env.aws).repositoryUrl : ""),
      tag: env.image.tag,
      digest: env.image.digest,
    },
    agentServers: Object.keys(env.agentServers)
      .sort()
      .map((name) => agentServerGroup(env, name, env.agentServers[name]!)),
    curve: curveKeySpec(env),
  });
}

function agentServerGroup(
  env: Environment,
  name: string,
  group: AgentServerGroupConfig,
): AgentServerGroupSpec {
  return dropUndefined({ ...group, name, exposure: exposure(env, name, group.exposure) });
}

/**
 * With AWS on, an NLB gets the security group the stack creates (found by its Name tag), and its health
 * checks come from the VPC unless the config names other ranges.
 */
function exposure(env: Environment, group: string, spec: ExposureSpec | undefined): ExposureSpec | undefined {
  if (spec?.type !== "nlb" || !env.aws?.enabled) return spec;
  const vpcCidr = env.aws.vpcCidr;
  return {
    ...spec,
    healthCheckCidrs: spec.healthCheckCidrs ?? (vpcCidr === undefined ? undefined : [vpcCidr]),
    annotations: {
      ...spec.annotations,
      [`${LBC}-security-groups`]: awsNames(env, env.aws).nlbSecurityGroup(group),
      [`${LBC}-manage-backend-security-group-rules`]: "true",
    },
  };
}

/** `external` reads from the store the stack creates (AWS on) or the one the spec names. */
export function curveKeySpec(env: Environment): CurveKeySpec {
  const curve = env.curve;
  if (curve.mode !== "external") return curve;
  return dropUndefined({
    mode: "external",
    remoteKey: curveRemoteKey(env),
    secretStoreRef: curve.secretStoreRef ?? { name: kubernetesNames(env).secretStore, kind: "SecretStore" },
    refreshInterval: curve.refreshInterval,
    publicKey: curve.publicKey,
  });
}

/** True when the stack must add the SecretStore and its service account. */
export function needsAwsSecretStore(env: Environment): boolean {
  return env.aws?.enabled === true && env.curve.mode === "external" && env.curve.secretStoreRef === undefined;
}

/** Removes keys whose value is undefined, so props read the same whichever way they were built. */
function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
