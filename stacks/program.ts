/**
 * The Pulumi program: one environment, read from the stack's `zeroplane:*` config.
 * AWS first (when on), then the Kubernetes objects, which are the very objects `npm run synth`
 * writes to deploy/<env>/. Returns the stack outputs; none of them is a secret.
 */
import * as pulumi from "@pulumi/pulumi";
import { ZeroplaneAws } from "./aws/index.js";
import { checkDeployableDigests, placeholderDigestKeys } from "./environment/load.js";
import { loadPulumiEnvironment } from "./environment/pulumi.js";
import { ZeroplaneKubernetes } from "./kubernetes/deploy.js";
import { synthesizeEnvironment } from "./kubernetes/manifests.js";
import { platformProps } from "./platform-props.js";

export async function zeroplaneProgram(): Promise<Record<string, unknown>> {
  const env = loadPulumiEnvironment();
  // A placeholder digest names no image: production refuses it, other stacks warn.
  checkDeployableDigests(env);
  for (const key of placeholderDigestKeys(env)) {
    pulumi.log.warn(
      `${key} is the all-zeros placeholder; no such image exists. Set the digest you pushed or mirrored: pulumi config set --path '${key}' sha256:<64 hex> --stack ${env.environment}`,
    );
  }
  // Synthesize first: a spec the platform rejects fails before any resource is registered.
  const synthesized = synthesizeEnvironment(env);
  const aws = env.aws?.enabled ? new ZeroplaneAws("aws", { environment: env, aws: env.aws }) : undefined;
  const kubernetes = new ZeroplaneKubernetes("kubernetes", {
    environment: env,
    synthesized,
    after: aws ? [aws] : [],
  });

  const configuredKey = "publicKey" in env.curve ? env.curve.publicKey : undefined;
  if (aws && configuredKey) {
    aws.curvePublicKey.apply((generated) => {
      if (generated && generated !== configuredKey) {
        pulumi.log.warn(
          `zeroplane:curve.publicKey differs from the key in Secrets Manager (${generated}). Fix: pulumi config set --path 'zeroplane:curve.publicKey' '${generated}'`,
        );
      }
    });
  }
  const image = platformProps(env).image;
  return {
    environment: env.environment,
    namespace: env.namespace,
    endpoints: kubernetes.endpoints,
    imageRepositoryUrl: aws?.repositoryUrl ?? image.repository,
    image: image.digest ? `${image.repository}@${image.digest}` : `${image.repository}:${image.tag}`,
    curvePublicKey: aws?.curvePublicKey ?? configuredKey ?? publicKeyHint(env),
    ...(aws && {
      curveSecretArn: aws.curveSecretArn,
      curveReaderRoleArn: aws.readerRoleArn,
      kmsKeyArn: aws.kmsKeyArn,
      nlbSecurityGroupIds: aws.nlbSecurityGroupIds,
    }),
  };
}

/** Where to read the public key when the stack does not hold it. */
function publicKeyHint(env: { curve: { mode: string }; namespace: string; platformName: string }): string {
  return env.curve.mode === "generated"
    ? `see ConfigMap ${env.platformName}-curve-public in namespace ${env.namespace} (written by the keygen Job)`
    : "not managed by this stack";
}
