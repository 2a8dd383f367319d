/** Small builders that keep rule modules declarative. */
import type { Finding, K8sObject, ObjectRule, RuleContext } from "../core/types.js";
import { podTemplateOf, WORKLOAD_KINDS, type PodTemplate } from "../k8s/workloads.js";

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
