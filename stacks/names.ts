/**
 * Every name the stacks derive from an environment. They are deterministic, so synthesis (no
 * Pulumi, no AWS) and `pulumi up` produce the same manifests: the ExternalSecret, the service
 * account's role ARN and the NLB security groups are all referenced by these names.
 */
import type { Environment } from "./environment/load.js";
import type { AwsEnabledConfig } from "./environment/schema.js";

/** Names of the Kubernetes-side objects the stacks add around the platform. */
export function kubernetesNames(env: Environment) {
  return {
    /** The SecretStore the stack creates for AWS Secrets Manager. */
    secretStore: `${env.platformName}-aws`,
    /** The service account the SecretStore authenticates as (IRSA). */
    secretsServiceAccount: `${env.platformName}-secrets`,
  };
}

/** Secrets Manager name of the server's CURVE keypair (JSON properties publicKey, secretKey). */
export function curveRemoteKey(env: Environment): string {
  const configured = env.curve.mode === "external" ? env.curve.remoteKey : undefined;
  return configured ?? `${env.platformName}/${env.environment}/curve-server-key`;
}

/** Names (and the ARNs and URLs that follow from them) of the AWS resources. */
export function awsNames(env: Environment, aws: AwsEnabledConfig) {
  const prefix = `${env.platformName}-${env.environment}`;
  const repositoryName = aws.ecr?.repositoryName ?? prefix;
  const readerRoleName = `${prefix}-curve-reader`;
  return {
    repositoryName,
    repositoryUrl: `${aws.accountId}.dkr.ecr.${aws.region}.amazonaws.com/${repositoryName}`,
    curveSecretName: curveRemoteKey(env),
    kmsAlias: `alias/${prefix}-curve`,
    readerRoleName,
    readerRoleArn: `arn:aws:iam::${aws.accountId}:role/${readerRoleName}`,
    /** Security group of one group's NLB; the load balancer controller finds it by this Name tag. */
    nlbSecurityGroup: (group: string) => `${prefix}-${group}-nlb`,
  };
}
