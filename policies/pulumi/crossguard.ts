/**
 * Turns the rule set into CrossGuard policies: one policy per rule, named by the rule id,
 * mandatory for errors and advisory for warnings. Object and AWS rules validate each resource;
 * set rules validate the stack.
 *
 * Unknown values (preview, before outputs exist) are read through @pulumi/policy's
 * unknownCheckingProxy: a rule that needs one throws UnknownValueError, which CrossGuard reports as
 * "can't run policy during preview" (advisory). The same rule runs again with known values during
 * the update, so nothing is waved through; and nothing blocks on a value nobody can know yet.
 */
import type {
  Policies,
  PolicyResource,
  ReportViolation,
  ResourceValidationPolicy,
  StackValidationPolicy,
} from "@pulumi/policy";
import { ruleContext } from "../core/context.js";
import { appliesTo } from "../core/engine.js";
import type { AwsRule, Finding, K8sObject, ObjectRule, Rule, RuleContext, SetRule } from "../core/types.js";
import { describeObject, renderPath } from "../k8s/read.js";
import { RULES } from "../rules/index.js";
import { kubernetesTypeOf, stackOfUrn, type KubernetesType } from "./types.js";

/** Per-policy configuration (`pulumi preview --policy-pack-config`). */
export interface PackConfig {
  /** Overrides the environment, which defaults to the stack name (prod, production, *-prod = production). */
  readonly environment?: string;
  /** Allowed image registry prefixes; empty or unset = any. */
  readonly allowedRegistries?: readonly string[];
}

const CONFIG_SCHEMA = {
  properties: {
    environment: { type: "string" as const, description: "Environment name; defaults to the stack name." },
    allowedRegistries: {
      type: "array" as const,
      items: { type: "string" as const },
      description: "Allowed image registry prefixes.",
    },
  },
};

function contextFor(urn: string | undefined, config: PackConfig): RuleContext {
  return ruleContext({
    environment: config.environment ?? (urn ? stackOfUrn(urn) : undefined),
    allowedRegistries: config.allowedRegistries ?? [],
    source: "pulumi",
  });
}

/**
 * The resource's props seen as a Kubernetes object, with apiVersion and kind taken from the type
 * token (authoritative, and never unknown). Other reads go through to the props unchanged.
 */
export function asKubernetesObject(props: Record<string, unknown>, type: KubernetesType): K8sObject {
  return new Proxy(props, {
    get(target, key) {
      if (key === "apiVersion") return type.apiVersion;
      if (key === "kind") return type.kind;
      return Reflect.get(target, key);
    },
  }) as unknown as K8sObject;
}

function message(subject: string, finding: Finding, rule: Rule): string {
  return `${subject}: ${finding.message}${finding.path ? ` (${renderPath(finding.path)})` : ""}. Fix: ${rule.fix}`;
}

function base(rule: Rule) {
  return {
    name: rule.id,
    description: rule.description,
    enforcementLevel: rule.severity === "error" ? ("mandatory" as const) : ("advisory" as const),
    severity: rule.severity === "error" ? ("high" as const) : ("medium" as const),
    configSchema: CONFIG_SCHEMA,
  };
}

function objectPolicy(rule: ObjectRule): ResourceValidationPolicy {
  return {
    ...base(rule),
    validateResource(args, reportViolation) {
      const type = kubernetesTypeOf(args.type);
      if (!type || !appliesTo(rule, type.kind)) return;
      const context = contextFor(args.urn, args.getConfig<PackConfig>());
      if (rule.productionOnly && !context.production) return;
      const object = asKubernetesObject(args.props, type);
      for (const finding of rule.check(object, context))
        reportViolation(message(describeObject(object), finding, rule));
    },
  };
}

function awsPolicy(rule: AwsRule): ResourceValidationPolicy {
  return {
    ...base(rule),
    validateResource(args, reportViolation) {
      if (!rule.resourceTypes.includes(args.type)) return;
      const context = contextFor(args.urn, args.getConfig<PackConfig>());
      if (rule.productionOnly && !context.production) return;
      for (const finding of rule.check({ type: args.type, name: args.name, props: args.props }, context)) {
        reportViolation(message(`${args.type} ${args.name}`, finding, rule));
      }
    },
  };
}

function setPolicy(rule: SetRule): StackValidationPolicy {
  return {
    ...base(rule),
    validateStack(args, reportViolation: ReportViolation) {
      const urns = new Map<K8sObject, string>();
      const objects: K8sObject[] = [];
      for (const resource of args.resources as readonly PolicyResource[]) {
        const type = kubernetesTypeOf(resource.type);
        if (!type) continue;
        const object = asKubernetesObject(resource.props, type);
        objects.push(object);
        urns.set(object, resource.urn);
      }
      if (objects.length === 0) return;
      const context = contextFor(args.resources[0]?.urn, args.getConfig<PackConfig>());
      if (rule.productionOnly && !context.production) return;
      for (const finding of rule.check(objects, context)) {
        reportViolation(message(describeObject(finding.object), finding, rule), urns.get(finding.object));
      }
    },
  };
}

/** Every rule as a CrossGuard policy. */
export function crossguardPolicies(rules: readonly Rule[] = RULES): Policies {
  return rules.map((rule) =>
    rule.scope === "object" ? objectPolicy(rule) : rule.scope === "aws" ? awsPolicy(rule) : setPolicy(rule),
  );
}
