/** Secrets stay in Secrets (or a secret store): never in env literals, ConfigMaps or Git. */
import type { ObjectRule } from "../core/types.js";
import { at, list, str, stringMap } from "../k8s/read.js";
import { secretLiteralReason } from "../k8s/secret-patterns.js";
import { containersOf, describeContainer } from "../k8s/workloads.js";
import { podRule } from "./define.js";

export const secretRules: readonly ObjectRule[] = [
  podRule({
    id: "no-secret-literals-in-env",
    severity: "error",
    description:
      "No container env value is a secret-looking literal (names like PASSWORD/TOKEN/SECRET/KEY, PEM blocks, AWS keys, Z85 keys).",
    fix: "Move the value into a Secret and use valueFrom.secretKeyRef, or mount the Secret as a file and pass its path.",
    checks: ["no-secret-literals-in-env"],
    check: (t) =>
      containersOf(t).flatMap((c) =>
        list(c.container.env).flatMap((entry, index) => {
          const name = str(at(entry, "name")) ?? "";
          const value = str(at(entry, "value"));
          const reason = value === undefined ? undefined : secretLiteralReason(name, value);
          return reason
            ? [
                {
                  message: `${describeContainer(c)} env ${name}: ${reason}`,
                  path: [...c.path, "env", index, "value"],
                },
              ]
            : [];
        }),
      ),
  }),
  {
    id: "no-secrets-in-configmap",
    severity: "error",
    scope: "object",
    kinds: ["ConfigMap"],
    description:
      "No ConfigMap key or value looks like a credential (secret-named keys with literals, PEM private keys, AWS keys, Z85 secret keys, password/token assignments in config files).",
    fix: "Move the value into a Secret (or an ExternalSecret from AWS Secrets Manager) and mount or reference it.",
    checks: ["no-secrets-in-configmap"],
    check(object) {
      return Object.entries(stringMap(object.data)).flatMap(([key, value]) => {
        const reason = secretLiteralReason(key, value);
        return reason ? [{ message: `key "${key}": ${reason}`, path: ["data", key] }] : [];
      });
    },
  },
  {
    id: "no-secret-data-in-manifests",
    severity: "error",
    scope: "object",
    kinds: ["Secret"],
    description:
      "Manifests meant for Git carry no Secret with inline data (Pulumi-managed Secrets are exempt: Pulumi encrypts them in state).",
    fix: "Create the Secret in the cluster (keygen Job), from a secret store (ExternalSecret), or through Pulumi with a secret config value; reference it by name.",
    checks: ["no-secrets-in-configmap"],
    check(object, context) {
      if (context.source !== "manifests") return [];
      return (["data", "stringData"] as const)
        .filter((field) => Object.keys(stringMap(object[field])).length > 0)
        .map((field) => ({ message: `the Secret has inline ${field}`, path: [field] }));
    },
  },
];
