/** Namespaces, labels and API versions (CHECKS.md section I). */
import type { Finding, ObjectRule } from "../core/types.js";
import { at, namespaceOf, stringMap } from "../k8s/read.js";
import { podTemplateOf } from "../k8s/workloads.js";
import { CLUSTER_SCOPED_KINDS } from "../k8s/kinds.js";

/** apiVersions removed or deprecated by Kubernetes 1.27, with their replacement. */
const RETIRED_API_VERSIONS: Readonly<Record<string, string>> = {
  "extensions/v1beta1": "apps/v1 or networking.k8s.io/v1",
  "apps/v1beta1": "apps/v1",
  "apps/v1beta2": "apps/v1",
  "batch/v1beta1": "batch/v1",
  "batch/v2alpha1": "batch/v1",
  "policy/v1beta1": "policy/v1",
  "autoscaling/v2beta1": "autoscaling/v2",
  "autoscaling/v2beta2": "autoscaling/v2",
  "networking.k8s.io/v1beta1": "networking.k8s.io/v1",
  "rbac.authorization.k8s.io/v1beta1": "rbac.authorization.k8s.io/v1",
  "rbac.authorization.k8s.io/v1alpha1": "rbac.authorization.k8s.io/v1",
  "flowcontrol.apiserver.k8s.io/v1beta1": "flowcontrol.apiserver.k8s.io/v1beta3",
  "storage.k8s.io/v1beta1": "storage.k8s.io/v1",
  "discovery.k8s.io/v1beta1": "discovery.k8s.io/v1",
  "events.k8s.io/v1beta1": "events.k8s.io/v1",
  "node.k8s.io/v1beta1": "node.k8s.io/v1",
  "scheduling.k8s.io/v1beta1": "scheduling.k8s.io/v1",
  "admissionregistration.k8s.io/v1beta1": "admissionregistration.k8s.io/v1",
  "apiextensions.k8s.io/v1beta1": "apiextensions.k8s.io/v1",
  "certificates.k8s.io/v1beta1": "certificates.k8s.io/v1",
  "coordination.k8s.io/v1beta1": "coordination.k8s.io/v1",
};

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function labelFindings(
  labels: Readonly<Record<string, string>>,
  path: readonly (string | number)[],
): Finding[] {
  return Object.entries(labels)
    .filter(([, value]) => value.length > 63 || !LABEL_VALUE.test(value))
    .map(([key, value]) => ({
      message: `label ${key} has an invalid value "${value}"`,
      path: [...path, key],
    }));
}

export const metadataRules: readonly ObjectRule[] = [
  {
    id: "no-default-namespace",
    severity: "warning",
    scope: "object",
    kinds: ["*"],
    description: "Namespaced objects name their namespace, and it is not default.",
    fix: "Set metadata.namespace to the platform's namespace.",
    checks: ["no-default-namespace"],
    check: (object) => {
      if (CLUSTER_SCOPED_KINDS.has(object.kind)) return [];
      const namespace = namespaceOf(object);
      return namespace === "" || namespace === "default"
        ? [
            {
              message: namespace ? "the object is in the default namespace" : "the object names no namespace",
              path: ["metadata", "namespace"],
            },
          ]
        : [];
    },
  },
  {
    id: "label-values-valid",
    severity: "error",
    scope: "object",
    kinds: ["*"],
    description:
      "Label values are valid: at most 63 characters of [A-Za-z0-9._-], starting and ending alphanumeric.",
    fix: "Shorten or sanitize the label value.",
    checks: ["label-values-valid"],
    check: (object) => {
      const template = podTemplateOf(object);
      return [
        ...labelFindings(stringMap(at(object, "metadata", "labels")), ["metadata", "labels"]),
        ...(template && object.kind !== "Pod"
          ? labelFindings(template.labels, [...template.metadataPath, "labels"])
          : []),
      ];
    },
  },
  {
    id: "stable-api-versions",
    severity: "error",
    scope: "object",
    kinds: ["*"],
    description:
      "Objects use API versions served by Kubernetes 1.27 (no removed or deprecated beta versions).",
    fix: "Move the object to the replacement apiVersion named in the message.",
    checks: ["stable-api-versions"],
    check: (object) => {
      const replacement = RETIRED_API_VERSIONS[object.apiVersion];
      return replacement
        ? [
            {
              message: `apiVersion ${object.apiVersion} is retired; use ${replacement}`,
              path: ["apiVersion"],
            },
          ]
        : [];
    },
  },
];
