/**
 * Runs the real Pulumi program of one environment under `pulumi.runtime.setMocks` and returns every
 * resource it registers, with its inputs: what CrossGuard's resource policies see. The objects of
 * `kubernetes:yaml/v2:ConfigGroup` (a provider-side component, whose children the mocks never
 * register) are expanded into the resources the provider would register.
 */
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { crossguardPolicies } from "../../policies/pulumi/crossguard.js";
import { pulumiTypeOf } from "../../policies/pulumi/types.js";
import { RULES } from "../../policies/rules/index.js";
import { readStackConfigFile } from "../../stacks/environment/load.js";
import { policyResource, repoRoot, type Editable } from "./support.js";

export interface RegisteredResource {
  readonly type: string;
  readonly name: string;
  readonly props: Record<string, unknown>;
}

const CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup";

async function settle(resources: readonly unknown[], deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let last = -1;
  while (Date.now() < deadline) {
    if (resources.length === last) return;
    last = resources.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

export async function registeredResources(environment: string): Promise<RegisteredResource[]> {
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
      Object.entries(config).map(([key, value]) => [
        key,
        typeof value === "string" ? value : JSON.stringify(value),
      ]),
    ),
  );
  const { zeroplaneProgram } = await import("../../stacks/program.js");
  const outputs = await zeroplaneProgram();
  await new Promise<void>((resolve) => pulumi.output(outputs).apply(() => resolve()));
  await settle(resources, 20_000);
  return resources.flatMap((r) =>
    r.type === CONFIG_GROUP
      ? ((r.props.objs as Editable[] | undefined) ?? []).map((o: Editable) => ({
          type: pulumiTypeOf(o.apiVersion, o.kind),
          name: `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`,
          props: o,
        }))
      : [r],
  );
}

/** Every mandatory (error-level) violation the whole pack reports on `resources`. */
export async function mandatoryViolations(
  environment: string,
  resources: readonly RegisteredResource[],
): Promise<string[]> {
  const found: string[] = [];
  const policies = crossguardPolicies();
  const wrapped = resources.map((r) => policyResource(environment, r.type, r.name, r.props));
  for (const [index, policy] of policies.entries()) {
    if (RULES[index]!.severity !== "error") continue;
    const report = (message: string) => found.push(`${policy.name}: ${message}`);
    const getConfig = <T extends object>() => ({}) as T;
    const notApplicable = (): never => {
      throw new Error("not applicable");
    };
    const stackPolicy = policy as StackValidationPolicy;
    if (stackPolicy.validateStack) {
      await stackPolicy.validateStack(
        { resources: wrapped, stackTags: new Map(), getConfig, notApplicable },
        report,
      );
      continue;
    }
    const validate = (policy as ResourceValidationPolicy).validateResource;
    if (!validate) continue;
    for (const r of wrapped) {
      const args: ResourceValidationArgs = {
        type: r.type,
        props: r.props,
        urn: r.urn,
        name: r.name,
        opts: r.opts,
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig,
        notApplicable,
      };
      for (const fn of Array.isArray(validate) ? validate : [validate]) await fn(args, report);
    }
  }
  return found;
}
