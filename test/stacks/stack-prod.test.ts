import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { publicKeyFromSecret } from "../../runtime/security/keys.js";
import { PLACEHOLDER_DIGEST } from "../../stacks/environment/schema.js";
import {
  digestOf,
  isSecretValue,
  ofType,
  pinnedDigestOverrides,
  runStack,
  strings,
  type RegisteredResource,
  type StackRun,
} from "./support/stack-harness.js";

let run: StackRun;
beforeAll(async () => {
  // As an operator would: the committed all-zeros digests replaced with the digests pushed.
  run = await runStack("prod", pinnedDigestOverrides("prod"));
}, 120_000);

const one = (type: string): RegisteredResource => {
  const found = ofType(run, type);
  expect(found, type).toHaveLength(1);
  return found[0]!;
};
const k8sObject = (type: string, name: string) => {
  const found = ofType(run, type).find((r) => r.name === `zeroplane-prod/${name}`);
  expect(found, `${type} ${name}`).toBeDefined();
  return found!.inputs as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- manifests are untyped JSON
};

describe("the prod stack on AWS", () => {
  it("pins the AWS provider to the configured region and account", () => {
    const provider = one("pulumi:providers:aws");
    expect(provider.inputs.region).toBe("eu-west-1");
    expect(JSON.parse(provider.inputs.allowedAccountIds as string)).toEqual(["210987654321"]);
  });

  it("creates an ECR repository with immutable tags, scan on push and a lifecycle policy", () => {
    const repository = one("aws:ecr/repository:Repository");
    expect(repository.inputs).toMatchObject({
      name: "zeroplane-prod",
      imageTagMutability: "IMMUTABLE",
      imageScanningConfiguration: { scanOnPush: true },
    });
    const policy = JSON.parse(one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs.policy as string);
    expect(policy.rules.map((r: { selection: { tagStatus: string } }) => r.selection.tagStatus)).toEqual([
      "untagged",
      "any",
    ]);
    expect(policy.rules[1].selection.countNumber).toBe(50);
  });

  it("keeps the CURVE keypair in Secrets Manager, encrypted with a rotating KMS key", () => {
    const key = one("aws:kms/key:Key");
    expect(key.inputs.enableKeyRotation).toBe(true);
    const secret = one("aws:secretsmanager/secret:Secret");
    expect(secret.inputs.name).toBe("zeroplane/prod/curve-server-key");
    expect(secret.inputs.kmsKeyId).toBe("arn:aws:kms:eu-west-1:210987654321:key/curve-key-id");
    expect(one("aws:kms/alias:Alias").inputs.name).toBe("alias/zeroplane-prod-curve");
  });

  it("generates the keypair once, as a real CURVE keypair, and stores it only as a Pulumi secret", () => {
    expect(ofType(run, "pulumi-nodejs:dynamic/zeroplane:CurveServerKey")).toHaveLength(1);
    const [secretKey] = run.generatedSecretKeys;
    expect(publicKeyFromSecret(secretKey!)).toBe(run.generatedPublicKeys[0]);
    const version = one("aws:secretsmanager/secretVersion:SecretVersion");
    expect(isSecretValue(version.inputs.secretString)).toBe(true);
    const stored = JSON.parse((version.inputs.secretString as { value: string }).value);
    expect(stored).toEqual({ publicKey: run.generatedPublicKeys[0], secretKey });
  });

  it("never lets the secret key appear in plaintext in any resource input or stack output", () => {
    const secretKey = run.generatedSecretKeys[0]!;
    const plaintext = run.resources.flatMap((r) =>
      strings(r.inputs)
        .filter((s) => s.text.includes(secretKey) && !s.secret)
        .map(() => `${r.type} ${r.name}`),
    );
    expect(plaintext).toEqual([]);
    expect(JSON.stringify(run.resolved)).not.toContain(secretKey);
  });

  it("exports no secret output, and the public key", async () => {
    for (const [name, value] of Object.entries(run.outputs)) {
      expect(await pulumi.isSecret(pulumi.output(value)), name).toBe(false);
    }
    expect(run.resolved.curvePublicKey).toBe(run.generatedPublicKeys[0]);
    expect(run.resolved.imageRepositoryUrl).toBe(
      "210987654321.dkr.ecr.eu-west-1.amazonaws.com/zeroplane-prod",
    );
  });

  it("lets only the SecretStore's service account assume the reader role (IRSA)", () => {
    const role = one("aws:iam/role:Role");
    const trust = JSON.parse(role.inputs.assumeRolePolicy as string);
    const issuer = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE0PROD0OIDC0PROVIDER0ID000";
    expect(trust.Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Federated: `arn:aws:iam::210987654321:oidc-provider/${issuer}` },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${issuer}:sub`]: "system:serviceaccount:zeroplane-prod:zeroplane-secrets",
            [`${issuer}:aud`]: "sts.amazonaws.com",
          },
        },
      },
    ]);
  });

  it("grants the role read access to that one secret and decrypt on that one key, without wildcards", () => {
    const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy").inputs.policy as string);
    const statements = policy.Statement as { Action: string | string[]; Resource: string }[];
    const actions = statements.flatMap((s) => [s.Action].flat()).sort();
    expect(actions).toEqual([
      "kms:Decrypt",
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetSecretValue",
    ]);
    expect(statements.map((s) => s.Resource)).toEqual([
      "arn:aws:secretsmanager:eu-west-1:210987654321:secret:zeroplane/prod/curve-server-key-AbCdEf",
      "arn:aws:kms:eu-west-1:210987654321:key/curve-key-id",
    ]);
    expect(JSON.stringify(policy)).not.toContain("*");
  });

  it("annotates the service account with the role ARN the stack creates", () => {
    const account = k8sObject("kubernetes:core/v1:ServiceAccount", "zeroplane-secrets");
    expect(account.metadata.annotations["eks.amazonaws.com/role-arn"]).toBe(
      "arn:aws:iam::210987654321:role/zeroplane-prod-curve-reader",
    );
    expect(one("aws:iam/role:Role").inputs.name).toBe("zeroplane-prod-curve-reader");
    const store = k8sObject("kubernetes:external-secrets.io/v1:SecretStore", "zeroplane-aws");
    expect(store.spec.provider.aws.auth.jwt.serviceAccountRef.name).toBe("zeroplane-secrets");
  });

  it("fills the server's CURVE Secret through an ExternalSecret reading that Secrets Manager entry", () => {
    const external = k8sObject("kubernetes:external-secrets.io/v1:ExternalSecret", "zeroplane-curve");
    expect(external.spec.secretStoreRef).toEqual({ kind: "SecretStore", name: "zeroplane-aws" });
    expect(new Set(external.spec.data.map((d: { remoteRef: { key: string } }) => d.remoteRef.key))).toEqual(
      new Set(["zeroplane/prod/curve-server-key"]),
    );
  });

  it("runs JetStream R3 on a three-node NATS cluster", () => {
    const nats = k8sObject("kubernetes:apps/v1:StatefulSet", "zeroplane-nats");
    expect(nats.spec.replicas).toBeGreaterThanOrEqual(3);
    const server = k8sObject("kubernetes:apps/v1:Deployment", "zeroplane-default");
    const env = server.spec.template.spec.containers[0].env as { name: string; value?: string }[];
    expect(env.find((e) => e.name === "ZEROPLANE_NATS_REPLICAS")?.value).toBe("3");
  });

  it("autoscales the agent servers from at least two replicas, on an image pinned by digest", () => {
    const hpa = k8sObject("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "zeroplane-default");
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    const server = k8sObject("kubernetes:apps/v1:Deployment", "zeroplane-default");
    expect(server.spec.replicas).toBeUndefined();
    expect(server.spec.template.spec.containers[0].image).toBe(
      `210987654321.dkr.ecr.eu-west-1.amazonaws.com/zeroplane-prod@${digestOf("zeroplane-runtime")}`,
    );
    const nats = k8sObject("kubernetes:apps/v1:StatefulSet", "zeroplane-nats");
    const images = nats.spec.template.spec.containers.map((c: { image: string }) => c.image);
    expect(images.join(" ")).not.toContain(PLACEHOLDER_DIGEST);
    expect(images).toContain(`nats@${digestOf("nats")}`);
  });

  it("requires NATS authentication and TLS: a tls:// URL, the CA and the credential files for the servers", () => {
    const conf = k8sObject("kubernetes:core/v1:ConfigMap", "zeroplane-nats-config").data["nats.conf"];
    expect(conf).toMatch(/^authorization \{$/m);
    expect(conf).toMatch(/^tls \{$/m);
    expect(conf).toMatch(/^ {2}tls \{$/m); // inside cluster: routes
    const server = k8sObject("kubernetes:apps/v1:Deployment", "zeroplane-default");
    const env = Object.fromEntries(
      (server.spec.template.spec.containers[0].env as { name: string; value?: string }[]).map((e) => [
        e.name,
        e.value,
      ]),
    );
    expect(env.ZEROPLANE_NATS_URLS).toBe("tls://zeroplane-nats.zeroplane-prod.svc.cluster.local:4222");
    expect(env.ZEROPLANE_NATS_TLS_CA_FILE).toMatch(/\/ca\.crt$/);
    expect(env.ZEROPLANE_NATS_USER_FILE).toMatch(/\/user$/);
    expect(env.ZEROPLANE_NATS_PASSWORD_FILE).toMatch(/\/password$/);
    const secrets = (server.spec.template.spec.volumes as { secret?: { secretName: string } }[])
      .map((v) => v.secret?.secretName)
      .filter(Boolean);
    expect(secrets).toEqual(expect.arrayContaining(["zeroplane-nats-auth", "zeroplane-nats-client-tls"]));
  });

  it("refuses to run with the committed all-zeros placeholder digests, naming the key and the fix", async () => {
    await expect(runStack("prod")).rejects.toThrow(
      /zeroplane:image\.digest is the all-zeros placeholder with production: true.*pulumi config set --path 'zeroplane:image\.digest' sha256:<64 hex> --stack prod/,
    );
  });

  it("puts the NLB behind its own security group, open only to the source ranges on the ZeroMQ ports", () => {
    const group = one("aws:ec2/securityGroup:SecurityGroup");
    expect(group.inputs.name).toBe("zeroplane-prod-default-nlb");
    expect(group.inputs.vpcId).toBe("vpc-0a1b2c3d4e5f60002");
    const ingress = group.inputs.ingress as { fromPort: number; toPort: number; cidrBlocks: string[] }[];
    expect(ingress.map((rule) => [rule.fromPort, rule.toPort, rule.cidrBlocks])).toEqual([
      [5555, 5555, ["198.51.100.0/24", "203.0.113.0/24"]],
      [5556, 5556, ["198.51.100.0/24", "203.0.113.0/24"]],
    ]);
    const service = k8sObject("kubernetes:core/v1:Service", "zeroplane-default-public");
    expect(service.spec.loadBalancerSourceRanges).toEqual(["198.51.100.0/24", "203.0.113.0/24"]);
    expect(service.metadata.annotations["service.beta.kubernetes.io/aws-load-balancer-security-groups"]).toBe(
      "zeroplane-prod-default-nlb",
    );
  });

  it("outputs the NLB endpoint and the in-cluster endpoint", () => {
    const endpoints = run.resolved.endpoints as Record<string, { router: string; events: string }>;
    expect(endpoints["zeroplane-default-public"]!.router).toMatch(/^tcp:\/\/.+\.elb\.example:5555$/);
    expect(endpoints["zeroplane-default"]!.events).toBe(
      "tcp://zeroplane-default.zeroplane-prod.svc.cluster.local:5556",
    );
  });

  it("outputs the headless endpoint for multi-server placement (dns://, every ready server)", () => {
    const endpoints = run.resolved.endpoints as Record<string, { router: string; events: string }>;
    expect(endpoints["zeroplane-default-headless"]).toEqual({
      router: "dns://zeroplane-default-headless.zeroplane-prod.svc.cluster.local:5555",
      events: "dns://zeroplane-default-headless.zeroplane-prod.svc.cluster.local:5556",
    });
  });

  it("creates the namespace first, and the platform objects only after it and every AWS resource", () => {
    const index = (predicate: (r: RegisteredResource) => boolean) =>
      run.resources.map((r, i) => (predicate(r) ? i : -1)).filter((i) => i >= 0);
    const platformStart = Math.min(
      ...index((r) => r.type === "kubernetes:yaml:ConfigGroup" && r.name === "platform"),
    );
    const namespaces = index((r) => r.type === "kubernetes:core/v1:Namespace");
    const aws = index((r) => r.type.startsWith("aws:") || r.type.startsWith("pulumi-nodejs:dynamic"));
    const workloads = index((r) => r.type.startsWith("kubernetes:") && r.name.startsWith("zeroplane-prod/"));
    expect(namespaces).toHaveLength(1);
    expect(aws.length).toBeGreaterThan(5);
    expect(Math.max(...namespaces, ...aws)).toBeLessThan(platformStart);
    expect(Math.min(...workloads)).toBeGreaterThan(platformStart);
  });

  it("registers every resource with an id and makes no provider calls", () => {
    for (const resource of run.resources) expect(resource.id, resource.name).toMatch(/.+/);
    expect(run.invokes).toEqual([]);
  });
});
