/**
 * The Kubernetes half of the AWS Secrets Manager wiring: a service account annotated with the
 * reader role (IRSA), and a namespaced SecretStore that authenticates as it. The platform's
 * ExternalSecret reads the CURVE keypair through this store.
 */
import { ApiObject } from "cdk8s";
import { Construct } from "constructs";
import type { Environment } from "../environment/load.js";
import type { AwsEnabledConfig } from "../environment/schema.js";
import { awsNames, kubernetesNames } from "../names.js";

/** Labels on the objects the stacks add around the platform. */
export function stackLabels(env: Environment, component: string): Record<string, string> {
  return {
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/managed-by": "zeroplane-stacks",
    "app.kubernetes.io/name": env.platformName,
    "app.kubernetes.io/part-of": env.platformName,
  };
}

export class AwsSecretStore extends Construct {
  constructor(scope: Construct, id: string, env: Environment, aws: AwsEnabledConfig) {
    super(scope, id);
    const names = kubernetesNames(env);
    const labels = stackLabels(env, "secret-store");
    new ApiObject(this, "service-account", {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: {
        name: names.secretsServiceAccount,
        namespace: env.namespace,
        labels,
        annotations: { "eks.amazonaws.com/role-arn": awsNames(env, aws).readerRoleArn },
      },
      // Only the external-secrets controller uses it, through the TokenRequest API; no pod mounts it.
      automountServiceAccountToken: false,
    });
    new ApiObject(this, "store", {
      apiVersion: "external-secrets.io/v1",
      kind: "SecretStore",
      metadata: { name: names.secretStore, namespace: env.namespace, labels },
      spec: {
        provider: {
          aws: {
            service: "SecretsManager",
            region: aws.region,
            auth: { jwt: { serviceAccountRef: { name: names.secretsServiceAccount } } },
          },
        },
      },
    });
  }
}
