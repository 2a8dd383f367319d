/** Small builders that keep rule modules declarative. */
import type { FieldPath, Finding, K8sObject, ObjectFinding, ObjectRule, RuleContext } from "../core/types.js";
import { at } from "../k8s/read.js";
import {
  containersOf,
  describeContainer,
  podTemplateOf,
  WORKLOAD_KINDS,
  type PodTemplate,
} from "../k8s/workloads.js";

type PodCheck = (template: PodTemplate, object: K8sObject, context: RuleContext) => Finding[];

/** A rule over the pod spec of every workload kind (Pod, Deployment, ..., CronJob). */
export function podRule(
  meta: Omit<ObjectRule, "scope" | "kinds" | "check"> & {
    readonly kinds?: readonly string[];
    readonly check: PodCheck;
  },
): ObjectRule {
  const { check, kinds, ...rest } = meta;
  return {
    ...rest,
    scope: "object",
    kinds: kinds ?? WORKLOAD_KINDS,
    check(object, context) {
      const template = podTemplateOf(object);
      return template ? check(template, object, context) : [];
    },
  };
}

/** The same finding on each of `objects` (for set rules that filter the objects they flag). */
export function findingOnEach(
  objects: readonly K8sObject[],
  message: string,
  path: FieldPath,
): ObjectFinding[] {
  return objects.map((object) => ({ object, message, path }));
}

/** A finding for each container whose securityContext `field` is not exactly `value`. */
export function containersNotSetting(template: PodTemplate, field: string, value: boolean): Finding[] {
  return containersOf(template)
    .filter((c) => at(c.container, "securityContext", field) !== value)
    .map((c) => ({
      message: `${describeContainer(c)} does not set ${field}: ${value}`,
      path: [...c.path, "securityContext", field],
    }));
}

/**
 * Findings where a securityContext field is bad, on the pod and then on each container: `where` is
 * the path below securityContext, `bad` tests its value.
 */
export function podAndContainerContexts(
  template: PodTemplate,
  where: readonly string[],
  bad: (value: unknown) => boolean,
  messages: { readonly pod: string; readonly container: (container: string) => string },
): Finding[] {
  const findings: Finding[] = [];
  if (bad(at(template.spec, "securityContext", ...where))) {
    findings.push({ message: messages.pod, path: [...template.specPath, "securityContext", ...where] });
  }
  for (const c of containersOf(template)) {
    if (bad(at(c.container, "securityContext", ...where))) {
      findings.push({
        message: messages.container(describeContainer(c)),
        path: [...c.path, "securityContext", ...where],
      });
    }
  }
  return findings;
}
