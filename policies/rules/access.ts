/** RBAC and service account tokens (CHECKS.md sections C and I). */
import type { ObjectRule, Rule, SetRule } from "../core/types.js";
import { at, list, namespaceOf, nameOf, str } from "../k8s/read.js";
import { workloadsIn } from "../k8s/workloads.js";

const ROLE_KINDS = ["Role", "ClusterRole"];
const BINDING_KINDS = ["RoleBinding", "ClusterRoleBinding"];

function strings(value: unknown): string[] {
  return list(value).filter((v): v is string => typeof v === "string");
}

const objectRules: readonly ObjectRule[] = [
  {
    id: "rbac-no-exec-attach",
    severity: "error",
    scope: "object",
    kinds: ROLE_KINDS,
    description: "Roles do not grant pods/exec or pods/attach (directly or through wildcards).",
    fix: "Remove pods/exec, pods/attach and '*' from the rule's resources.",
    checks: ["rbac-no-exec-attach"],
    check: (role) =>
      list(at(role, "rules")).flatMap((rule, index) => {
        const groups = strings(at(rule, "apiGroups"));
        const resources = strings(at(rule, "resources"));
        const verbs = strings(at(rule, "verbs"));
        const coreGroup = groups.includes("") || groups.includes("*");
        const grants = resources.some(
          (r) => r === "pods/exec" || r === "pods/attach" || r === "*" || r === "pods/*",
        );
        const canUse = verbs.some((v) => v === "create" || v === "get" || v === "*");
        return coreGroup && grants && canUse
          ? [{ message: `rule ${index} grants pod exec/attach`, path: ["rules", index] }]
          : [];
      }),
  },
  {
    id: "rbac-no-cluster-admin",
    severity: "error",
    scope: "object",
    kinds: [...ROLE_KINDS, ...BINDING_KINDS],
    description: "Nothing binds cluster-admin, and no role grants '*' verbs on '*' resources in '*' groups.",
    fix: "Grant the few verbs on the few resources the workload needs (for example get/create on one named Secret).",
    checks: ["rbac-no-cluster-admin"],
    check: (object) => {
      if (BINDING_KINDS.includes(object.kind)) {
        return str(at(object, "roleRef", "name")) === "cluster-admin"
          ? [{ message: "binds cluster-admin", path: ["roleRef", "name"] }]
          : [];
      }
      return list(at(object, "rules")).flatMap((rule, index) =>
        strings(at(rule, "apiGroups")).includes("*") &&
        strings(at(rule, "resources")).includes("*") &&
        strings(at(rule, "verbs")).includes("*")
          ? [{ message: `rule ${index} grants everything`, path: ["rules", index] }]
          : [],
      );
    },
  },
];

const tokenRule: SetRule = {
  id: "no-sa-token-automount",
  severity: "warning",
  scope: "set",
  description:
    "Pods do not mount a service account token unless they call the API (their ServiceAccount is bound to a Role).",
  fix: "Set automountServiceAccountToken: false on the pod spec or its ServiceAccount.",
  checks: ["no-sa-token-automount"],
  check(objects) {
    return workloadsIn(objects).flatMap(({ object, template }) => {
      const podSetting = at(template.spec, "automountServiceAccountToken");
      if (podSetting === false) return [];
      const account = str(template.spec.serviceAccountName) ?? "default";
      const namespace = namespaceOf(object);
      const boundToRole = objects.some(
        (o) =>
          BINDING_KINDS.includes(o.kind) &&
          list(at(o, "subjects")).some(
            (s) =>
              str(at(s, "kind")) === "ServiceAccount" &&
              str(at(s, "name")) === account &&
              (str(at(s, "namespace")) ?? namespaceOf(o)) === namespace,
          ),
      );
      if (boundToRole) return [];
      const serviceAccount = objects.find(
        (o) => o.kind === "ServiceAccount" && nameOf(o) === account && namespaceOf(o) === namespace,
      );
      if (
        podSetting === undefined &&
        serviceAccount &&
        at(serviceAccount, "automountServiceAccountToken") === false
      )
        return [];
      return [
        {
          object,
          message: "its pods mount a service account token they do not need",
          path: [...template.specPath, "automountServiceAccountToken"],
        },
      ];
    });
  },
};

export const accessRules: readonly Rule[] = [...objectRules, tokenRule];
