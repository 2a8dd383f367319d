/**
 * Small pieces every construct shares: the validation error, name and label helpers, quantities,
 * image references and the Pod Security "restricted" security contexts.
 */
import * as k8s from "cdk8s-plus-27/lib/imports/k8s.js";
import { OPERATOR_CREATED_ANNOTATION } from "../runtime/config/names.js";
import { check } from "./errors.js";
import type { ImageSpec, ResourceSpec } from "./platform.js";

export { ConstructPropsError, check, propName, type PropPath } from "./errors.js";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Checks a DNS-1123 label (names of namespaces, services, groups). */
export function checkDnsLabel(value: string, prop: string, maxLength = 63): void {
  check(
    typeof value === "string" && value.length <= maxLength && DNS_LABEL.test(value),
    prop,
    `must be a DNS label of at most ${maxLength} characters (lowercase letters, digits and '-', starting and ending with a letter or digit)`,
    value,
    `rename it, e.g. "${String(value)
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, maxLength)}"`,
  );
}

export function checkPositiveInt(value: number, prop: string, fix: string, min = 1): void {
  check(
    Number.isInteger(value) && value >= min,
    prop,
    `must be a whole number of at least ${min}`,
    value,
    fix,
  );
}

/** Label keys on everything we emit (the Kubernetes recommended labels). */
export const LABELS = {
  name: "app.kubernetes.io/name",
  instance: "app.kubernetes.io/instance",
  component: "app.kubernetes.io/component",
  partOf: "app.kubernetes.io/part-of",
  managedBy: "app.kubernetes.io/managed-by",
} as const;

/**
 * The recommended labels of a component's objects over the user's `base` labels (which they
 * override), keys sorted.
 */
export function recommendedLabels(
  base: Readonly<Record<string, string>> | undefined,
  own: {
    readonly name: string;
    readonly instance?: string;
    readonly component?: string;
    readonly partOf: string;
  },
): Record<string, string> {
  return sortedRecord({
    ...base,
    [LABELS.name]: own.name,
    ...(own.instance === undefined ? {} : { [LABELS.instance]: own.instance }),
    ...(own.component === undefined ? {} : { [LABELS.component]: own.component }),
    [LABELS.partOf]: own.partOf,
    [LABELS.managedBy]: "cdk8s",
  });
}

/** Returns a copy of a label map with its keys sorted, so output order never depends on input order. */
export function sortedRecord<T>(record: Readonly<Record<string, T>> | undefined): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of Object.keys(record ?? {}).sort()) out[key] = record![key]!;
  return out;
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Checks every value of a label map (selectors and labels). */
export function checkLabels(labels: Readonly<Record<string, string>> | undefined, prop: string): void {
  for (const [key, value] of Object.entries(labels ?? {})) {
    check(
      typeof value === "string" && value.length <= 63 && LABEL_VALUE.test(value),
      `${prop}.${key}`,
      "is not a valid label value (at most 63 characters: letters, digits, '-', '_', '.')",
      value,
      "use a shorter value made of those characters",
    );
  }
}

/** The full image reference, `repo:tag` or `repo@sha256:...`. Validates the spec. */
export function imageRef(image: ImageSpec, prop: string): string {
  check(
    typeof image?.repository === "string" && /^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?$/.test(image.repository),
    `${prop}.repository`,
    "must be an image repository such as registry.example/zeroplane (lowercase, no tag)",
    image?.repository,
    "set the repository without ':tag' or '@digest'",
  );
  check(
    (image.tag === undefined) !== (image.digest === undefined),
    prop,
    "needs exactly one of tag or digest",
    { tag: image.tag, digest: image.digest },
    "set either tag (e.g. '0.1.0') or digest ('sha256:<64 hex>'), not both and not neither",
  );
  if (image.digest !== undefined) {
    check(
      /^sha256:[a-f0-9]{64}$/.test(image.digest),
      `${prop}.digest`,
      "is not a sha256 digest",
      image.digest,
      "use the form sha256:<64 lowercase hex characters>",
    );
    return `${image.repository}@${image.digest}`;
  }
  check(
    /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(image.tag!) && image.tag !== "latest",
    `${prop}.tag`,
    "must be a pinned tag (not 'latest')",
    image.tag,
    "use a version tag such as '0.1.0', or a digest",
  );
  return `${image.repository}:${image.tag}`;
}

/** `IfNotPresent` for a digest-pinned image (it cannot change), `Always` for a tag (it can be moved). */
export function pullPolicy(reference: string): "Always" | "IfNotPresent" {
  return reference.includes("@sha256:") ? "IfNotPresent" : "Always";
}

const QUANTITY = /^([0-9]+(\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const FACTORS: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
  Ei: 1024 ** 6,
};

/** Parses a Kubernetes quantity ("500m", "1Gi", "2") into a number of base units. */
export function parseQuantity(value: string, prop: string): number {
  const match = typeof value === "string" ? QUANTITY.exec(value) : null;
  check(
    match !== null,
    prop,
    "is not a Kubernetes quantity",
    value,
    'write it like "500m" (CPU), "512Mi" or "1Gi" (memory and storage)',
  );
  return Number(match![1]) * FACTORS[match![3] ?? ""]!;
}

/** The uid and gid every container runs as: high, so it never maps to a host user. */
export const RUN_AS_ID = 10001;

/** Pod-level Pod Security "restricted" context. */
export function restrictedPodSecurityContext(): k8s.PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: RUN_AS_ID,
    runAsGroup: RUN_AS_ID,
    fsGroup: RUN_AS_ID,
    fsGroupChangePolicy: "OnRootMismatch",
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** Container-level Pod Security "restricted" context (read-only root, no privilege, no capabilities). */
export function restrictedContainerSecurityContext(uid = RUN_AS_ID, gid = RUN_AS_ID): k8s.SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: gid,
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** Topology spread across zones and nodes, best effort across zones, strict-ish across nodes. */
export function spreadConstraints(matchLabels: Record<string, string>): k8s.TopologySpreadConstraint[] {
  return [
    {
      maxSkew: 1,
      topologyKey: "topology.kubernetes.io/zone",
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: { matchLabels },
    },
    {
      maxSkew: 1,
      topologyKey: "kubernetes.io/hostname",
      whenUnsatisfiable: "ScheduleAnyway",
      labelSelector: { matchLabels },
    },
  ];
}

/** Requests and limits of one container; ephemeral storage is both request and limit. */
export function containerResources(spec: ResourceSpec): k8s.ResourceRequirements {
  const ephemeral = k8s.Quantity.fromString(spec.ephemeralStorage ?? "1Gi");
  return {
    requests: {
      cpu: k8s.Quantity.fromString(spec.requests.cpu),
      memory: k8s.Quantity.fromString(spec.requests.memory),
      "ephemeral-storage": ephemeral,
    },
    limits: {
      cpu: k8s.Quantity.fromString(spec.limits.cpu),
      memory: k8s.Quantity.fromString(spec.limits.memory),
      "ephemeral-storage": ephemeral,
    },
  };
}

/**
 * Pod-template metadata naming what the operator must create (`Secret/a, ConfigMap/b`) in the
 * OPERATOR_CREATED_ANNOTATION; empty when there is nothing.
 */
export function operatorCreatedMetadata(refs: readonly (string | false | undefined)[]): {
  annotations?: Record<string, string>;
} {
  const listed = [...new Set(refs.filter((ref): ref is string => typeof ref === "string"))].sort();
  return listed.length ? { annotations: { [OPERATOR_CREATED_ANNOTATION]: listed.join(", ") } } : {};
}
