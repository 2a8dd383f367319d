/**
 * What a container's environment variable resolves to, following Kubernetes precedence:
 * `env` entries (last one wins) over `envFrom` sources (last one wins), ConfigMaps looked up in
 * the same set of objects. Anything we cannot see (a Secret, a missing ConfigMap) is "unresolved".
 */
import type { K8sObject } from "../core/types.js";
import { at, list, namespaceOf, nameOf, str, stringMap } from "./read.js";

export type EnvValue =
  | { readonly kind: "literal"; readonly value: string }
  | { readonly kind: "unset" }
  | { readonly kind: "unresolved"; readonly reason: string };

function configMapValue(
  objects: readonly K8sObject[],
  namespace: string,
  name: string | undefined,
  key: string,
): EnvValue {
  const configMap = objects.find(
    (o) => o.kind === "ConfigMap" && nameOf(o) === name && namespaceOf(o) === namespace,
  );
  if (!configMap)
    return { kind: "unresolved", reason: `ConfigMap "${name ?? ""}" is not among the checked objects` };
  const value = stringMap(configMap.data)[key];
  return value === undefined ? { kind: "unset" } : { kind: "literal", value };
}

export function resolveEnv(
  container: unknown,
  variable: string,
  objects: readonly K8sObject[],
  namespace: string,
): EnvValue {
  const entries = list(at(container, "env")).filter((entry) => str(at(entry, "name")) === variable);
  const entry = entries[entries.length - 1];
  if (entry !== undefined) {
    const value = str(at(entry, "value"));
    if (value !== undefined) return { kind: "literal", value };
    const configMapRef = at(entry, "valueFrom", "configMapKeyRef");
    if (configMapRef !== undefined) {
      return configMapValue(
        objects,
        namespace,
        str(at(configMapRef, "name")),
        str(at(configMapRef, "key")) ?? "",
      );
    }
    if (at(entry, "valueFrom") !== undefined)
      return { kind: "unresolved", reason: `${variable} comes from a Secret or field reference` };
    return { kind: "literal", value: "" };
  }
  const sources = [...list(at(container, "envFrom"))].reverse();
  for (const source of sources) {
    const prefix = str(at(source, "prefix")) ?? "";
    if (!variable.startsWith(prefix)) continue;
    const key = variable.slice(prefix.length);
    if (at(source, "configMapRef") !== undefined) {
      const value = configMapValue(objects, namespace, str(at(source, "configMapRef", "name")), key);
      if (value.kind !== "unset") return value;
    } else if (at(source, "secretRef") !== undefined) {
      return {
        kind: "unresolved",
        reason: `envFrom Secret "${str(at(source, "secretRef", "name")) ?? ""}" may set ${variable}`,
      };
    }
  }
  return { kind: "unset" };
}

/** Parses a boolean as the runtime's config loader does; undefined for anything else. */
export function parseEnvBoolean(raw: string): boolean | undefined {
  if (/^(true|1|yes|on)$/i.test(raw)) return true;
  if (/^(false|0|no|off)$/i.test(raw)) return false;
  return undefined;
}
