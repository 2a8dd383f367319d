/**
 * Runs the Pulumi program for one environment under `pulumi.runtime.setMocks` (preview off): the
 * stack file's `config` goes into `setAllConfig`, the program module is imported only after the
 * mocks are set, and every registered resource is recorded. Mocks return an id for every resource
 * and the few computed outputs the program reads (ARNs, URLs, the CURVE keypair, NLB hostnames).
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { readStackConfigFile } from "../../../stacks/environment/load.js";

export const PROJECT_DIR = join(import.meta.dirname, "..", "..", "..");

/** Pulumi's marker for a secret value in serialized properties. */
const SECRET_SIG = { key: "4dabf18193072939515e22adb298388d", value: "1b47061264138c4ac30d75fd1eb44270" };

export interface RegisteredResource {
  readonly type: string;
  readonly name: string;
  readonly id: string;
  /** Inputs as the engine sees them: secrets stay wrapped (see isSecretValue). */
  readonly inputs: Record<string, unknown>;
}

export interface StackRun {
  readonly resources: RegisteredResource[];
  /** Function calls (invokes) the program made. */
  readonly invokes: string[];
  /** The program's outputs, as returned (Outputs included). */
  readonly outputs: Record<string, unknown>;
  /** The same, resolved to plain values. */
  readonly resolved: Record<string, unknown>;
  /** Secret keys the mocked CURVE key resource generated (real keypairs, from the real provider code). */
  readonly generatedSecretKeys: string[];
  readonly generatedPublicKeys: string[];
}

/** True for a value Pulumi serialized as a secret. */
export function isSecretValue(value: unknown): value is { value: unknown } {
  return (
    value !== null &&
    typeof value === "object" &&
    (value as Record<string, unknown>)[SECRET_SIG.key] === SECRET_SIG.value
  );
}

/** Every string in a value, with whether it sits inside a secret. */
export function strings(value: unknown, insideSecret = false): { text: string; secret: boolean }[] {
  if (typeof value === "string") return [{ text: value, secret: insideSecret }];
  if (isSecretValue(value)) return strings(value.value, true);
  if (Array.isArray(value)) return value.flatMap((item) => strings(item, insideSecret));
  if (value !== null && typeof value === "object") {
    return Object.values(value).flatMap((item) => strings(item, insideSecret));
  }
  return [];
}

function computedState(type: string, name: string, inputs: Record<string, unknown>, account: string) {
  const region = "eu-west-1";
  switch (type) {
    case "aws:ecr/repository:Repository":
      return {
        arn: `arn:aws:ecr:${region}:${account}:repository/${String(inputs.name)}`,
        repositoryUrl: `${account}.dkr.ecr.${region}.amazonaws.com/${String(inputs.name)}`,
      };
    case "aws:kms/key:Key":
      return { arn: `arn:aws:kms:${region}:${account}:key/${name}-key-id`, keyId: `${name}-key-id` };
    case "aws:secretsmanager/secret:Secret":
      return { arn: `arn:aws:secretsmanager:${region}:${account}:secret:${String(inputs.name)}-AbCdEf` };
    case "aws:iam/role:Role":
      return { arn: `arn:aws:iam::${account}:role/${String(inputs.name)}` };
    case "aws:ec2/securityGroup:SecurityGroup":
      return { id: `sg-${name}` };
    case "kubernetes:core/v1:Service": {
      const spec = inputs.spec as { type?: string } | undefined;
      return spec?.type === "LoadBalancer"
        ? { status: { loadBalancer: { ingress: [{ hostname: `${name.replace(/\W/g, "-")}.elb.example` }] } } }
        : {};
    }
    default:
      return {};
  }
}

/** A real-looking (non-placeholder) digest, stable per image name. */
export function digestOf(image: string): string {
  return `sha256:${createHash("sha256").update(image).digest("hex")}`;
}

/**
 * Config overrides that replace every all-zeros placeholder digest in a stack file with a real-looking
 * one, as an operator does before `pulumi up` (the program refuses placeholders with production: true).
 * Only the `digest` fields change; everything else stays as committed.
 */
export function pinnedDigestOverrides(environment: string): Record<string, unknown> {
  const config = readStackConfigFile(join(PROJECT_DIR, `Pulumi.${environment}.yaml`));
  const pin = (image: unknown, name: string): unknown =>
    image !== null && typeof image === "object" && "digest" in image
      ? { ...image, digest: digestOf(name) }
      : image;
  const overrides: Record<string, unknown> = {};
  const image = config["zeroplane:image"];
  if (image !== undefined) overrides["zeroplane:image"] = pin(image, "zeroplane-runtime");
  const nats = config["zeroplane:nats"] as Record<string, unknown> | undefined;
  if (nats !== undefined) {
    overrides["zeroplane:nats"] = {
      ...nats,
      image: pin(nats.image, "nats"),
      exporterImage: pin(nats.exporterImage, "prometheus-nats-exporter"),
    };
  }
  return overrides;
}

/** Runs the program for `environment`, with optional config overrides (full keys, plain values). */
export async function runStack(
  environment: string,
  overrides: Record<string, unknown> = {},
): Promise<StackRun> {
  const fileConfig = readStackConfigFile(join(PROJECT_DIR, `Pulumi.${environment}.yaml`));
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...fileConfig, ...overrides })) {
    config[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  pulumi.runtime.setAllConfig(config);
  const account = String(
    (fileConfig["zeroplane:aws"] as { accountId?: string } | undefined)?.accountId ?? "000000000000",
  );

  const resources: RegisteredResource[] = [];
  const invokes: string[] = [];
  const generatedSecretKeys: string[] = [];
  const generatedPublicKeys: string[] = [];
  const { curveKeyProvider } = await import("../../../stacks/aws/curve-key.js");
  await pulumi.runtime.setMocks(
    {
      async newResource(args) {
        let state: Record<string, unknown> = {
          ...args.inputs,
          ...computedState(args.type, args.name, args.inputs, account),
        };
        let id = `${args.name}-id`;
        if (args.type === "pulumi-nodejs:dynamic/zeroplane:CurveServerKey") {
          // The real provider code, as the engine would run it on create.
          const created = await curveKeyProvider.create();
          generatedSecretKeys.push(created.outs.secretKey);
          generatedPublicKeys.push(created.outs.publicKey);
          state = { ...state, ...created.outs };
          id = created.id;
        }
        if (typeof state.id === "string") id = state.id;
        resources.push({ type: args.type, name: args.name, id, inputs: args.inputs });
        return { id, state };
      },
      call(args) {
        invokes.push(args.token);
        return {};
      },
    },
    "zeroplane",
    environment,
    false,
  );
  // Imported only now, after the mocks are in place.
  const { zeroplaneProgram } = await import("../../../stacks/program.js");
  const outputs = await zeroplaneProgram();
  const resolved = await new Promise<Record<string, unknown>>((resolve) =>
    pulumi.output(outputs).apply((values) => resolve(values as Record<string, unknown>)),
  );
  await pulumi.runtime.disconnect(); // waits for every outstanding registration
  return { resources, invokes, outputs, resolved, generatedSecretKeys, generatedPublicKeys };
}

/** Resources of one type. */
export function ofType(run: StackRun, type: string): RegisteredResource[] {
  return run.resources.filter((resource) => resource.type === type);
}

/** The AWS resource types a stack with AWS on registers. */
export const AWS_RESOURCE_TYPES = [
  "aws:ec2/securityGroup:SecurityGroup",
  "aws:ecr/lifecyclePolicy:LifecyclePolicy",
  "aws:ecr/repository:Repository",
  "aws:iam/role:Role",
  "aws:iam/rolePolicy:RolePolicy",
  "aws:kms/alias:Alias",
  "aws:kms/key:Key",
  "aws:secretsmanager/secret:Secret",
  "aws:secretsmanager/secretVersion:SecretVersion",
];
