/**
 * Strict schema validation of Kubernetes objects against the vendored 1.27 schemas
 * (`vendor/k8s-schemas-1.27/{kind}-{group}-{version}.json`, kubeconform standalone-strict naming).
 * Unknown fields are errors; a kind without a vendored schema is an error, never a silent pass.
 *
 *   const errors = validateObjects(objects);   // [] when every object is valid
 *   expect(errors).toEqual([]);
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsPlugin from "ajv-formats";

export const SCHEMA_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "vendor",
  "k8s-schemas-1.27",
);

// ajv-formats is CommonJS with a default export; under NodeNext its type is the module namespace.
const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv;

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
// Kubernetes OpenAPI formats that ajv-formats does not know; the API server treats them as free text.
for (const format of ["int-or-string", "quantity"]) ajv.addFormat(format, true);

const cache = new Map<string, ValidateFunction>();

/** The schema file name for an apiVersion and kind, e.g. `deployment-apps-v1.json`, `service-v1.json`. */
export function schemaFileName(apiVersion: string, kind: string): string {
  const [groupPart, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const group = groupPart!.split(".")[0]!;
  return `${[kind.toLowerCase(), group, version].filter(Boolean).join("-")}.json`;
}

function validatorFor(apiVersion: string, kind: string): ValidateFunction {
  const file = schemaFileName(apiVersion, kind);
  let validate = cache.get(file);
  if (!validate) {
    const path = join(SCHEMA_DIR, file);
    if (!existsSync(path)) {
      throw new Error(`no vendored schema for ${apiVersion} ${kind} (looked for ${path})`);
    }
    validate = ajv.compile(JSON.parse(readFileSync(path, "utf8")) as object);
    cache.set(file, validate);
  }
  return validate;
}

function describe(object: Record<string, unknown>): string {
  const metadata = (object.metadata ?? {}) as { name?: string; namespace?: string };
  return `${String(object.kind)}/${metadata.namespace ? `${metadata.namespace}/` : ""}${metadata.name ?? "<unnamed>"}`;
}

/** Errors of one object, as readable lines; [] when valid. */
export function validateObject(object: Record<string, unknown>): string[] {
  const apiVersion = object.apiVersion;
  const kind = object.kind;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    return [`${describe(object)}: apiVersion and kind must be strings`];
  }
  let validate: ValidateFunction;
  try {
    validate = validatorFor(apiVersion, kind);
  } catch (error) {
    return [`${describe(object)}: ${(error as Error).message}`];
  }
  if (validate(object)) return [];
  return (validate.errors ?? []).map((error) => {
    const extra =
      error.keyword === "additionalProperties"
        ? ` (${(error.params as { additionalProperty: string }).additionalProperty})`
        : "";
    return `${describe(object)}${error.instancePath || "/"}: ${error.message ?? error.keyword}${extra}`;
  });
}

/** Errors of every object; [] when all are valid. */
export function validateObjects(objects: readonly Record<string, unknown>[]): string[] {
  return objects.flatMap(validateObject);
}
