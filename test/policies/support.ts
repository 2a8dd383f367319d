/** Shared helpers for the policy tests: the compliant fixture, rule runners, CrossGuard runners. */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type {
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { unknownCheckingProxy } from "@pulumi/policy";
import { parseAllDocuments } from "yaml";
import { ruleContext } from "../../policies/core/context.js";
import { checkAwsResources, checkObjects } from "../../policies/core/engine.js";
import type { AwsResource, K8sObject, Rule, Violation } from "../../policies/core/types.js";
import { crossguardPolicies } from "../../policies/pulumi/crossguard.js";
import { pulumiTypeOf } from "../../policies/pulumi/types.js";
import { ruleById } from "../../policies/rules/index.js";

export const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, "..", "..");
export const compliantFixture = join(here, "fixtures", "compliant", "platform.yaml");

// Tests edit fixture objects freely (deep paths, deletes); a precise type would only add casts.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Editable = any;

/** A fresh copy of the compliant platform (passes every rule in prod). */
export function baseline(): Editable[] {
  return parseAllDocuments(readFileSync(compliantFixture, "utf8")).map((d) => d.toJS() as Editable);
}

/** The object of `kind` (and `name`, when given) in `objects`; throws when absent. */
export function find(objects: Editable[], kind: string, name?: string): Editable {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  if (!found) throw new Error(`fixture has no ${kind} ${name ?? ""}`);
  return found;
}

/** The agent server Deployment's pod spec and first container. */
export function agentServer(objects: Editable[]): {
  deployment: Editable;
  pod: Editable;
  container: Editable;
} {
  const deployment = find(objects, "Deployment", "agent-server");
  return {
    deployment,
    pod: deployment.spec.template.spec,
    container: deployment.spec.template.spec.containers[0],
  };
}

export interface RunOptions {
  readonly environment?: string;
  readonly allowedRegistries?: readonly string[];
  /** Whether an automated GitOps sync applies the objects. @default false */
  readonly autoSynced?: boolean;
}

/** Violations of one rule over a set of objects, through the engine (the CLI's path). */
export function violationsOf(
  ruleId: string,
  objects: readonly K8sObject[],
  options: RunOptions = {},
): Violation[] {
  const rule = ruleById(ruleId);
  const context = ruleContext({
    environment: options.environment,
    allowedRegistries: options.allowedRegistries ?? [],
    source: "manifests",
    autoSynced: options.autoSynced ?? false,
  });
  const only = { objectRules: [], setRules: [], awsRules: [] };
  if (rule.scope === "aws") throw new Error("use awsViolationsOf for AWS rules");
  return checkObjects(
    objects.map((object) => ({ object })),
    context,
    rule.scope === "object" ? { ...only, objectRules: [rule] } : { ...only, setRules: [rule] },
  );
}

export function awsViolationsOf(
  ruleId: string,
  resources: readonly AwsResource[],
  options: RunOptions = {},
): Violation[] {
  const rule = ruleById(ruleId);
  if (rule.scope !== "aws") throw new Error(`${ruleId} is not an AWS rule`);
  const context = ruleContext({ environment: options.environment, source: "pulumi" });
  return checkAwsResources(resources, context, { awsRules: [rule] });
}

function policyFor(rule: Rule): ResourceValidationPolicy | StackValidationPolicy {
  const [policy] = crossguardPolicies([rule]);
  if (!policy) throw new Error(`no policy for ${rule.id}`);
  return policy;
}

function urnOf(stack: string, type: string, name: string): string {
  return `urn:pulumi:${stack}::zeroplane::${type}::${name}`;
}

function notApplicable(reason?: string): never {
  throw new Error(`notApplicable: ${reason ?? ""}`);
}

/** A Pulumi resource as CrossGuard hands it to a policy: props wrapped in unknownCheckingProxy. */
export function policyResource(
  stack: string,
  type: string,
  name: string,
  props: Record<string, unknown>,
): PolicyResource {
  const proxied = unknownCheckingProxy(props) as Record<string, unknown>;
  return {
    type,
    name,
    urn: urnOf(stack, type, name),
    props: proxied,
    opts: {
      protect: false,
      ignoreChanges: [],
      aliases: [],
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      additionalSecretOutputs: [],
    },
    dependencies: [],
    propertyDependencies: {},
    isType: () => false,
    asType: () => undefined,
  };
}

type Report = (message: string, urn?: string) => void;

/** Runs one CrossGuard policy as the engine would: once over the stack, or once per resource. */
export async function runPolicy(
  policy: ResourceValidationPolicy | StackValidationPolicy,
  wrapped: readonly PolicyResource[],
  report: Report,
  config: Record<string, unknown> = {},
): Promise<void> {
  const getConfig = <T extends object>() => config as T;
  if ("validateStack" in policy && policy.validateStack) {
    const args: StackValidationArgs = {
      resources: [...wrapped],
      stackTags: new Map(),
      getConfig,
      notApplicable,
    };
    await policy.validateStack(args, report);
  } else if ("validateResource" in policy && policy.validateResource) {
    const validate = policy.validateResource;
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
}

/** Runs a rule's CrossGuard policy as the pack would, over Kubernetes objects or AWS resources. */
export async function crossguardViolations(
  ruleId: string,
  resources: readonly { type: string; name: string; props: Record<string, unknown> }[],
  stack = "dev",
  config: Record<string, unknown> = {},
): Promise<{ message: string; urn?: string }[]> {
  const reported: { message: string; urn?: string }[] = [];
  const wrapped = resources.map((r) => policyResource(stack, r.type, r.name, r.props));
  await runPolicy(
    policyFor(ruleById(ruleId)),
    wrapped,
    (message, urn) => reported.push({ message, ...(urn ? { urn } : {}) }),
    config,
  );
  return reported;
}

/** Kubernetes objects as Pulumi resources (type token from apiVersion/kind). */
export function asPulumiResources(
  objects: readonly Editable[],
): { type: string; name: string; props: Record<string, unknown> }[] {
  return objects.map((o, index) => ({
    type: pulumiTypeOf(o.apiVersion, o.kind),
    name: o.metadata?.name ?? `object-${index}`,
    props: o,
  }));
}
