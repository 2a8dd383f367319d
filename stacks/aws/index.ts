/**
 * The AWS side of one environment: the image repository, the server's CURVE keypair in Secrets
 * Manager (KMS-encrypted), the IAM role that lets only the SecretStore's service account read it,
 * and a security group for every NLB.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_PORTS } from "../../runtime/config/names.js";
import type { Environment } from "../environment/load.js";
import type { AwsEnabledConfig } from "../environment/schema.js";
import { awsNames, kubernetesNames } from "../names.js";
import { CurveServerKey } from "./curve-key.js";

/** The ports an NLB forwards: the ZeroMQ ROUTER and PUB sockets. */
export const NLB_PORTS = [DEFAULT_PORTS.router, DEFAULT_PORTS.stream] as const;
/** Where the NLB health-checks each pod (HTTP GET /readyz). */
export const NLB_HEALTH_CHECK_PORT = DEFAULT_PORTS.http;

export interface ZeroplaneAwsArgs {
  /** The environment: platform name, environment name, namespace and groups. */
  readonly environment: Environment;
  /** Its AWS section (enabled). */
  readonly aws: AwsEnabledConfig;
}

export class ZeroplaneAws extends pulumi.ComponentResource {
  /** `<account>.dkr.ecr.<region>.amazonaws.com/<name>`. */
  readonly repositoryUrl: pulumi.Output<string>;
  /** The server's CURVE public key (Z85). */
  readonly curvePublicKey: pulumi.Output<string>;
  /** The server's CURVE secret key (Z85). A Pulumi secret; never export it. */
  readonly curveSecretKey: pulumi.Output<string>;
  /** The Secrets Manager secret holding the keypair as JSON. */
  readonly curveSecretArn: pulumi.Output<string>;
  /** The secret's version: its `secretString` is a Pulumi secret. */
  readonly curveSecretVersion: aws.secretsmanager.SecretVersion;
  readonly kmsKeyArn: pulumi.Output<string>;
  /** The role the SecretStore's service account assumes (IRSA). */
  readonly readerRoleArn: pulumi.Output<string>;
  /** The reader role's only permissions, as a JSON policy document. */
  readonly readerPolicy: pulumi.Output<string>;
  /** NLB security group ids by agent-server group. */
  readonly nlbSecurityGroupIds: Record<string, pulumi.Output<string>>;

  constructor(name: string, args: ZeroplaneAwsArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("zeroplane:aws:Environment", name, {}, opts);
    const { environment: env, aws: config } = args;
    const names = awsNames(env, config);
    const child = { parent: this, provider: this.provider(env, config) };

    this.repositoryUrl = this.imageRepository(names, config, child);
    const key = this.kmsKey(env, names, config, child);
    this.kmsKeyArn = key.arn;

    // Generated once; protected in production so a stray destroy cannot lose the server identity.
    const keypair = new CurveServerKey("curve-server-key", {
      parent: this,
      protect: env.production === true,
    });
    this.curvePublicKey = keypair.publicKey;
    this.curveSecretKey = pulumi.secret(keypair.secretKey);
    const secret = this.curveSecret(env, names, config, key, keypair, child);
    this.curveSecretArn = secret.arn;
    this.curveSecretVersion = secret.version;

    this.readerPolicy = pulumi.jsonStringify(readerPolicy(secret.arn, key.arn, config.region));
    this.readerRoleArn = this.readerRole(env, names, config, child);
    this.nlbSecurityGroupIds = this.nlbSecurityGroups(env, names, config, child);

    this.registerOutputs({
      repositoryUrl: this.repositoryUrl,
      curvePublicKey: this.curvePublicKey,
      curveSecretArn: this.curveSecretArn,
      readerRoleArn: this.readerRoleArn,
    });
  }

  /** The account's provider: only the account the spec names, every resource tagged. */
  private provider(env: Environment, config: AwsEnabledConfig): aws.Provider {
    return new aws.Provider(
      "aws",
      {
        region: config.region as aws.Region,
        // Refuse to touch any other account than the one the spec names.
        allowedAccountIds: [config.accountId],
        defaultTags: {
          tags: {
            ...config.tags,
            "app.kubernetes.io/part-of": env.platformName,
            "zeroplane.dev/environment": env.environment,
          },
        },
      },
      { parent: this },
    );
  }

  /** The ECR repository (immutable tags, scanned on push) and its lifecycle policy; returns its URL. */
  private imageRepository(names: AwsNames, config: AwsEnabledConfig, child: Child): pulumi.Output<string> {
    const repository = new aws.ecr.Repository(
      "image",
      {
        name: names.repositoryName,
        imageTagMutability: "IMMUTABLE",
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfigurations: [{ encryptionType: "AES256" }],
      },
      child,
    );
    new aws.ecr.LifecyclePolicy(
      "image",
      { repository: repository.name, policy: JSON.stringify(lifecyclePolicy(config)) },
      child,
    );
    return repository.repositoryUrl;
  }

  /** The KMS key (rotated) that encrypts the CURVE key in Secrets Manager, and its alias. */
  private kmsKey(env: Environment, names: AwsNames, config: AwsEnabledConfig, child: Child): aws.kms.Key {
    const key = new aws.kms.Key(
      "curve",
      {
        description: `Encrypts the ${env.platformName} ${env.environment} CURVE server key in Secrets Manager`,
        enableKeyRotation: true,
        deletionWindowInDays: config.kmsDeletionWindowDays ?? 30,
      },
      child,
    );
    new aws.kms.Alias("curve", { name: names.kmsAlias, targetKeyId: key.keyId }, child);
    return key;
  }

  /** The Secrets Manager secret holding the keypair as JSON; its value is a Pulumi secret. */
  private curveSecret(
    env: Environment,
    names: AwsNames,
    config: AwsEnabledConfig,
    key: aws.kms.Key,
    keypair: CurveServerKey,
    child: Child,
  ): { arn: pulumi.Output<string>; version: aws.secretsmanager.SecretVersion } {
    const secret = new aws.secretsmanager.Secret(
      "curve",
      {
        name: names.curveSecretName,
        description: `CURVE keypair of the ${env.platformName} ${env.environment} agent servers (JSON: publicKey, secretKey)`,
        kmsKeyId: key.arn,
        recoveryWindowInDays: config.secretRecoveryWindowDays ?? 30,
      },
      child,
    );
    const version = new aws.secretsmanager.SecretVersion(
      "curve",
      {
        secretId: secret.id,
        secretString: pulumi.secret(
          pulumi.jsonStringify({ publicKey: keypair.publicKey, secretKey: keypair.secretKey }),
        ),
      },
      child,
    );
    return { arn: secret.arn, version };
  }

  /** The IRSA role the SecretStore's service account assumes, allowed readerPolicy only; returns its ARN. */
  private readerRole(env: Environment, names: AwsNames, config: AwsEnabledConfig, child: Child) {
    const role = new aws.iam.Role(
      "curve-reader",
      {
        name: names.readerRoleName,
        description: `Lets ${env.namespace}/${kubernetesNames(env).secretsServiceAccount} read the CURVE key, and nothing else`,
        assumeRolePolicy: JSON.stringify(trustPolicy(env, config)),
        maxSessionDuration: 3600,
      },
      child,
    );
    new aws.iam.RolePolicy("curve-reader", { role: role.id, policy: this.readerPolicy }, child);
    return role.arn;
  }

  /** One security group per NLB-exposed group: ZeroMQ in from its source ranges, out to the pods only. */
  private nlbSecurityGroups(
    env: Environment,
    names: AwsNames,
    config: AwsEnabledConfig,
    child: Child,
  ): Record<string, pulumi.Output<string>> {
    const ids: Record<string, pulumi.Output<string>> = {};
    for (const [group, spec] of Object.entries(env.agentServers).sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (spec.exposure?.type !== "nlb") continue;
      const sgName = names.nlbSecurityGroup(group);
      const sources = [...spec.exposure.sourceRanges].sort();
      const v4 = sources.filter((range) => !range.includes(":"));
      const v6 = sources.filter((range) => range.includes(":"));
      const sg = new aws.ec2.SecurityGroup(
        `nlb-${group}`,
        {
          name: sgName,
          description: `NLB of ${env.platformName} ${env.environment} agent servers "${group}": ZeroMQ from the source ranges only`,
          vpcId: config.vpcId,
          ingress: NLB_PORTS.map((port) => ({
            description: "ZeroMQ (CURVE) from the allowed source ranges",
            protocol: "tcp",
            fromPort: port,
            toPort: port,
            cidrBlocks: v4,
            ipv6CidrBlocks: v6,
          })),
          // Forward only to the pods (ip targets in the VPC), only on the ZeroMQ ports, and health-check
          // their /readyz on the metrics port.
          egress: [...NLB_PORTS, NLB_HEALTH_CHECK_PORT].map((port) => ({
            description:
              port === NLB_HEALTH_CHECK_PORT
                ? "health checks (GET /readyz) to the pods"
                : "to the agent-server pods",
            protocol: "tcp",
            fromPort: port,
            toPort: port,
            cidrBlocks: [config.vpcCidr!],
          })),
          tags: { Name: sgName },
        },
        child,
      );
      ids[group] = sg.id;
    }
    return ids;
  }
}

type AwsNames = ReturnType<typeof awsNames>;
/** Options of every resource the component creates: its child, through its provider. */
type Child = { parent: pulumi.Resource; provider: aws.Provider };

/** ECR lifecycle: expire untagged images after some days, keep the newest N images. */
export function lifecyclePolicy(config: AwsEnabledConfig) {
  return {
    rules: [
      {
        rulePriority: 1,
        description: "Expire untagged images",
        selection: {
          tagStatus: "untagged",
          countType: "sinceImagePushed",
          countUnit: "days",
          countNumber: config.ecr?.untaggedExpiryDays ?? 7,
        },
        action: { type: "expire" },
      },
      {
        rulePriority: 2,
        description: "Keep only the newest images",
        selection: {
          tagStatus: "any",
          countType: "imageCountMoreThan",
          countNumber: config.ecr?.keepImages ?? 30,
        },
        action: { type: "expire" },
      },
    ],
  };
}

/** IRSA trust: only the SecretStore's service account in this namespace, only through the cluster's OIDC provider. */
export function trustPolicy(env: Environment, config: AwsEnabledConfig) {
  const issuer = config.irsa.oidcProviderUrl.replace(/^https:\/\//, "");
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Federated: config.irsa.oidcProviderArn },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${issuer}:sub`]: `system:serviceaccount:${env.namespace}:${kubernetesNames(env).secretsServiceAccount}`,
            [`${issuer}:aud`]: "sts.amazonaws.com",
          },
        },
      },
    ],
  };
}

/** Read that one secret, decrypt with that one key (and only through Secrets Manager). No wildcards. */
export function readerPolicy(secretArn: pulumi.Input<string>, keyArn: pulumi.Input<string>, region: string) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ReadCurveKey",
        Effect: "Allow",
        Action: ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
        Resource: secretArn,
      },
      {
        Sid: "DecryptCurveKey",
        Effect: "Allow",
        Action: "kms:Decrypt",
        Resource: keyArn,
        Condition: { StringEquals: { "kms:ViaService": `secretsmanager.${region}.amazonaws.com` } },
      },
    ],
  };
}
