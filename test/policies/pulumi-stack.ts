/**
 * Runs the real Pulumi program of one environment under `pulumi.runtime.setMocks` and returns every
 * resource it registers, with its inputs: what CrossGuard's resource policies see. The objects of
 * `kubernetes:yaml/v2:ConfigGroup` (a provider-side component, whose children the mocks never
 * register) are expanded into the resources the provider would register.
 */
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { expect } from "vitest";
import { crossguardPolicies } from "../../policies/pulumi/crossguard.js";
import { pulumiTypeOf } from "../../policies/pulumi/types.js";
import { RULES } from "../../policies/rules/index.js";
import { loadEnvironmentFile, readStackConfigFile } from "../../stacks/environment/load.js";
import { synthesizeEnvironment } from "../../stacks/kubernetes/manifests.js";
import { policyResource, repoRoot, runPolicy, type Editable } from "./support.js";

export interface RegisteredResource {
  readonly type: string;
  readonly name: string;
  readonly props: Record<string, unknown>;
}

const CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup";

/** `namespace/name`, or `name` for a cluster-scoped object: how the provider names ConfigGroup children. */
function qualifiedName(metadata: { readonly namespace?: string; readonly name: string }): string {
  return metadata.namespace ? `${metadata.namespace}/${metadata.name}` : metadata.name;
}

/**
 * Runs the program and returns every resource it registered. `overrides` replace stack-file keys
 * (full keys, plain values), e.g. real digests for prod, which refuses its placeholders.
 */
export async function registeredResources(
  environment: string,
  overrides: Record<string, unknown> = {},
): Promise<RegisteredResource[]> {
  const resources: RegisteredResource[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        resources.push({ type: args.type, name: args.name, props: args.inputs as Record<string, unknown> });
        return {
          id: `${args.name}-id`,
          state: {
            ...args.inputs,
            arn: `arn:aws:mock:::${args.name}`,
            repositoryUrl: `mock.example.com/${args.name}`,
          },
        };
      },
      call(args) {
        return args.inputs;
      },
    },
    "zeroplane",
    environment,
    false,
  );
  const config = readStackConfigFile(join(repoRoot, `Pulumi.${environment}.yaml`));
  pulumi.runtime.setAllConfig(
    Object.fromEntries(
      Object.entries({ ...config, ...overrides }).map(([key, value]) => [
        key,
        typeof value === "string" ? value : JSON.stringify(value),
      ]),
    ),
  );
  const { zeroplaneProgram } = await import("../../stacks/program.js");
  const outputs = await zeroplaneProgram();
  await new Promise<void>((resolve) => pulumi.output(outputs).apply(() => resolve()));
  // Waits for every outstanding registration (the RPC queue drains), so the set is complete.
  await pulumi.runtime.disconnect();
  return resources.flatMap((r) =>
    r.type === CONFIG_GROUP
      ? ((r.props.objs as Editable[] | undefined) ?? []).map((o: Editable) => ({
          type: pulumiTypeOf(o.apiVersion, o.kind),
          name: qualifiedName({ namespace: o.metadata?.namespace, name: o.metadata?.name ?? "" }),
          props: o,
        }))
      : [r],
  );
}

/**
 * `kind namespace/name` of every Kubernetes object the environment synthesizes: what the program's
 * ConfigGroups must hold once registration is complete.
 */
export function expectedKubernetesObjects(environment: string): string[] {
  const env = loadEnvironmentFile(join(repoRoot, `Pulumi.${environment}.yaml`));
  return synthesizeEnvironment(env)
    .objects.map((o) => `${o.kind} ${qualifiedName(o.metadata)}`)
    .sort();
}

/** The same listing for the registered resources (ConfigGroups expanded). */
export function registeredKubernetesObjects(resources: readonly RegisteredResource[]): string[] {
  return resources
    .filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:yaml"))
    .map((r) => `${String((r.props as Editable).kind)} ${r.name}`)
    .sort();
}

/** Every mandatory (error-level) violation the whole pack reports on `resources`. */
export async function mandatoryViolations(
  environment: string,
  resources: readonly RegisteredResource[],
): Promise<string[]> {
  const found: string[] = [];
  const wrapped = resources.map((r) => policyResource(environment, r.type, r.name, r.props));
  for (const [index, policy] of crossguardPolicies().entries()) {
    if (RULES[index]!.severity !== "error") continue;
    await runPolicy(policy, wrapped, (message) => found.push(`${policy.name}: ${message}`));
  }
  return found;
}

export { AWS_RESOURCE_TYPES } from "../stacks/support/stack-harness.js";

/**
 * The CI gate: the environment's real program registers the complete set of Kubernetes objects (not
 * a prefix of it) and exactly the given AWS resource types, and the pack reports no mandatory violation.
 */
export async function expectStackPassesPack(
  environment: string,
  awsTypes: readonly string[],
  config: Record<string, unknown> = {},
): Promise<void> {
  const resources = await registeredResources(environment, config);
  const expected = expectedKubernetesObjects(environment);
  expect(expected.length).toBeGreaterThan(15);
  expect(registeredKubernetesObjects(resources)).toEqual(expected);
  const registeredAwsTypes = [
    ...new Set(resources.filter((r) => r.type.startsWith("aws:")).map((r) => r.type)),
  ];
  expect(registeredAwsTypes.sort()).toEqual([...awsTypes]);
  expect(await mandatoryViolations(environment, resources)).toEqual([]);
}
