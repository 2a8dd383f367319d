/**
 * Runs rules over objects and turns findings into violations. Pure: no I/O. A rule that throws is
 * reported as a violation of that rule (never a crash), except errors the caller asks to rethrow
 * (CrossGuard's UnknownValueError, which the pack turns into "can't check during preview").
 */
import { describeObject, namespaceOf, nameOf, renderPath } from "../k8s/read.js";
import { AWS_RULES, OBJECT_RULES, SET_RULES } from "../rules/index.js";
import type {
  AwsResource,
  AwsRule,
  FieldPath,
  K8sObject,
  ObjectRef,
  ObjectRule,
  RuleContext,
  SetRule,
  SourceLocation,
  Violation,
} from "./types.js";

/** An object plus, when it came from a file, a way to find a field's line. */
export interface SourcedObject {
  readonly object: K8sObject;
  readonly locate?: (path: FieldPath | undefined) => SourceLocation;
}

export interface EngineOptions {
  readonly objectRules?: readonly ObjectRule[];
  readonly setRules?: readonly SetRule[];
  readonly awsRules?: readonly AwsRule[];
  /** Errors for which this returns true propagate instead of becoming violations. */
  readonly rethrow?: (error: unknown) => boolean;
}

export function objectRef(object: K8sObject): ObjectRef {
  const namespace = namespaceOf(object);
  const name = nameOf(object);
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    ...(namespace ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
  };
}

export function appliesTo(rule: ObjectRule, kind: string): boolean {
  return rule.kinds.includes("*") || rule.kinds.includes(kind);
}

function enabled(rule: { readonly productionOnly?: boolean }, context: RuleContext): boolean {
  return !rule.productionOnly || context.production;
}

function failure(
  rule: { id: string; severity: Violation["severity"] },
  what: string,
  error: unknown,
): Pick<Violation, "ruleId" | "severity" | "message" | "fix"> {
  return {
    ruleId: rule.id,
    severity: "error",
    message: `rule ${rule.id} could not evaluate ${what}: ${error instanceof Error ? error.message : String(error)}`,
    fix: "Check that the object is well-formed Kubernetes JSON (the field types the API expects).",
  };
}

function guard<T>(options: EngineOptions, run: () => T, onError: (error: unknown) => T): T {
  try {
    return run();
  } catch (error) {
    if (options.rethrow?.(error)) throw error;
    return onError(error);
  }
}

/** Runs the object and set rules over `items`. */
export function checkObjects(
  items: readonly SourcedObject[],
  context: RuleContext,
  options: EngineOptions = {},
): Violation[] {
  const violations: Violation[] = [];
  const byObject = new Map(items.map((item) => [item.object, item]));
  const violation = (
    item: SourcedObject | undefined,
    object: K8sObject,
    base: Omit<Violation, "object" | "location">,
  ): Violation => {
    const location = item?.locate?.(base.path);
    return { ...base, object: objectRef(object), ...(location ? { location } : {}) };
  };
  for (const rule of options.objectRules ?? OBJECT_RULES) {
    if (!enabled(rule, context)) continue;
    for (const item of items) {
      if (!appliesTo(rule, item.object.kind)) continue;
      const findings = guard(
        options,
        () => rule.check(item.object, context),
        (error) => {
          violations.push(violation(item, item.object, failure(rule, describeObject(item.object), error)));
          return [];
        },
      );
      for (const f of findings) {
        violations.push(
          violation(item, item.object, {
            ruleId: rule.id,
            severity: rule.severity,
            message: f.message,
            fix: rule.fix,
            ...(f.path ? { path: f.path } : {}),
          }),
        );
      }
    }
  }
  const objects = items.map((item) => item.object);
  for (const rule of options.setRules ?? SET_RULES) {
    if (!enabled(rule, context)) continue;
    const findings = guard(
      options,
      () => rule.check(objects, context),
      (error) => {
        violations.push({ ...failure(rule, "the objects", error) });
        return [];
      },
    );
    for (const f of findings) {
      violations.push(
        violation(byObject.get(f.object), f.object, {
          ruleId: rule.id,
          severity: rule.severity,
          message: f.message,
          fix: rule.fix,
          ...(f.path ? { path: f.path } : {}),
        }),
      );
    }
  }
  return violations;
}

/** Runs the AWS rules over `resources`. */
export function checkAwsResources(
  resources: readonly AwsResource[],
  context: RuleContext,
  options: EngineOptions = {},
): Violation[] {
  const violations: Violation[] = [];
  for (const rule of options.awsRules ?? AWS_RULES) {
    if (!enabled(rule, context)) continue;
    for (const resource of resources) {
      if (!rule.resourceTypes.includes(resource.type)) continue;
      const ref = { type: resource.type, name: resource.name };
      const findings = guard(
        options,
        () => rule.check(resource, context),
        (error) => {
          violations.push({ ...failure(rule, `${resource.type} ${resource.name}`, error), resource: ref });
          return [];
        },
      );
      for (const f of findings) {
        violations.push({
          ruleId: rule.id,
          severity: rule.severity,
          message: f.message,
          fix: rule.fix,
          resource: ref,
          ...(f.path ? { path: f.path } : {}),
        });
      }
    }
  }
  return violations;
}

/** Counts by severity. */
export function summarize(violations: readonly Violation[]): { errors: number; warnings: number } {
  return {
    errors: violations.filter((v) => v.severity === "error").length,
    warnings: violations.filter((v) => v.severity === "warning").length,
  };
}

/** `spec.template.spec.containers[0].image`, or "" without a path. */
export function pathText(violation: Pick<Violation, "path">): string {
  return violation.path ? renderPath(violation.path) : "";
}
