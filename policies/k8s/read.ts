/**
 * Defensive readers for untrusted object JSON. A manifest can hold any shape; rules read through
 * these so that a wrong type means "absent", never a crash. They work on plain objects and on
 * @pulumi/policy's unknownCheckingProxy alike (an unknown value throws UnknownValueError on read).
 */
import type { FieldPath } from "../core/types.js";

export type JsonRecord = Readonly<Record<string, unknown>>;

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The value at `path`, or undefined when any step is missing or of the wrong type. */
export function at(value: unknown, ...path: FieldPath): unknown {
  let node = value;
  for (const key of path) {
    if (typeof key === "number") {
      if (!Array.isArray(node)) return undefined;
      node = (node as unknown[])[key];
    } else {
      if (!isRecord(node)) return undefined;
      node = node[key];
    }
  }
  return node;
}

export function record(value: unknown): JsonRecord | undefined {
  return isRecord(value) ? value : undefined;
}

export function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** The string-valued entries of a map (labels, annotations, selectors, ConfigMap data). */
export function stringMap(value: unknown): Readonly<Record<string, string>> {
  const result: Record<string, string> = {};
  if (!isRecord(value)) return result;
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry === "string") result[key] = entry;
  }
  return result;
}

/** `metadata.name`, `metadata.namespace`, labels and annotations. */
export function nameOf(object: unknown): string | undefined {
  return str(at(object, "metadata", "name"));
}

/** The namespace, or "" when unset (objects without one land in the same namespace at apply time). */
export function namespaceOf(object: unknown): string {
  return str(at(object, "metadata", "namespace")) ?? "";
}

/** `Kind namespace/name`, for messages. */
export function describeObject(object: { readonly kind: string }): string {
  const namespace = namespaceOf(object);
  const name = nameOf(object) ?? "(unnamed)";
  return `${object.kind} ${namespace ? `${namespace}/` : ""}${name}`;
}

/** Renders a path as `spec.template.spec.containers[0].image`. */
export function renderPath(path: FieldPath): string {
  return path
    .map((key, index) => (typeof key === "number" ? `[${key}]` : index === 0 ? key : `.${key}`))
    .join("");
}

/**
 * Whether `object.key` holds a value (not undefined, null or ""), without reading it. Under
 * CrossGuard's unknownCheckingProxy an unknown value (known to be set, value not yet known) counts
 * as present instead of throwing: presence checks never need the value itself.
 */
export function hasValue(object: unknown, key: string): boolean {
  if (!isRecord(object)) return false;
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  return (
    descriptor !== undefined &&
    descriptor.value !== undefined &&
    descriptor.value !== null &&
    descriptor.value !== ""
  );
}
