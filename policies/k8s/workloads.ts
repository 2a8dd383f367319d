/** Where the pod spec lives in each workload kind, and the containers inside it. */
import type { FieldPath, K8sObject } from "../core/types.js";
import {
  at,
  isRecord,
  list,
  namespaceOf,
  nameOf,
  num,
  record,
  str,
  stringMap,
  type JsonRecord,
} from "./read.js";

/** Every kind that carries a pod spec. */
export const WORKLOAD_KINDS = [
  "Pod",
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "ReplicaSet",
  "Job",
  "CronJob",
] as const;

/** Kinds whose pods run until stopped (probes apply); Jobs and CronJobs run to completion. */
export const LONG_RUNNING_KINDS = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"] as const;

/** Kinds with `spec.replicas`. */
export const REPLICATED_KINDS = ["Deployment", "StatefulSet", "ReplicaSet"] as const;

/** A pod template: its spec, metadata and where they sit in the object. */
export interface PodTemplate {
  readonly spec: JsonRecord;
  readonly specPath: FieldPath;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly metadataPath: FieldPath;
}

const TEMPLATE_PATHS: Readonly<Record<string, FieldPath>> = {
  Deployment: ["spec", "template"],
  StatefulSet: ["spec", "template"],
  DaemonSet: ["spec", "template"],
  ReplicaSet: ["spec", "template"],
  Job: ["spec", "template"],
  CronJob: ["spec", "jobTemplate", "spec", "template"],
};

/** The pod template of a workload (for a Pod: the Pod itself), or undefined for other kinds. */
export function podTemplateOf(object: K8sObject): PodTemplate | undefined {
  const templatePath: FieldPath | undefined = object.kind === "Pod" ? [] : TEMPLATE_PATHS[object.kind];
  if (!templatePath) return undefined;
  const template = templatePath.length ? at(object, ...templatePath) : object;
  const spec = record(at(template, "spec"));
  if (!spec) return undefined;
  return {
    spec,
    specPath: [...templatePath, "spec"],
    labels: stringMap(at(template, "metadata", "labels")),
    annotations: stringMap(at(template, "metadata", "annotations")),
    metadataPath: [...templatePath, "metadata"],
  };
}

export type ContainerGroup = "containers" | "initContainers" | "ephemeralContainers";

export interface ContainerRef {
  readonly container: JsonRecord;
  readonly name: string;
  readonly group: ContainerGroup;
  readonly path: FieldPath;
}

/** The containers of a pod spec, in the groups asked for (all three by default). */
export function containersOf(
  template: PodTemplate,
  groups: readonly ContainerGroup[] = ["containers", "initContainers", "ephemeralContainers"],
): ContainerRef[] {
  const result: ContainerRef[] = [];
  for (const group of groups) {
    list(template.spec[group]).forEach((entry, index) => {
      if (!isRecord(entry)) return;
      result.push({
        container: entry,
        name: str(entry.name) ?? `#${index}`,
        group,
        path: [...template.specPath, group, index],
      });
    });
  }
  return result;
}

/** `container "name"` or `init container "name"`, for messages. */
export function describeContainer(ref: ContainerRef): string {
  const label =
    ref.group === "containers"
      ? "container"
      : ref.group === "initContainers"
        ? "init container"
        : "ephemeral container";
  return `${label} "${ref.name}"`;
}

/** Whether the object's pods run until stopped. */
export function isLongRunning(object: K8sObject): boolean {
  if ((LONG_RUNNING_KINDS as readonly string[]).includes(object.kind)) return true;
  if (object.kind !== "Pod") return false;
  const restartPolicy = str(at(object, "spec", "restartPolicy"));
  return restartPolicy === undefined || restartPolicy === "Always";
}

/** `spec.replicas` as written, the API default (1) when unset, or undefined for kinds without replicas. */
export function replicasOf(object: K8sObject): number | undefined {
  if (!(REPLICATED_KINDS as readonly string[]).includes(object.kind)) return undefined;
  return num(at(object, "spec", "replicas")) ?? 1;
}

/** Whether two objects are the same Kubernetes object (kind, namespace, name). */
export function sameObject(a: K8sObject, b: K8sObject): boolean {
  return a === b || (a.kind === b.kind && namespaceOf(a) === namespaceOf(b) && nameOf(a) === nameOf(b));
}

/** The workloads among `objects`, with their pod templates. */
export function workloadsIn(objects: readonly K8sObject[]): { object: K8sObject; template: PodTemplate }[] {
  const result: { object: K8sObject; template: PodTemplate }[] = [];
  for (const object of objects) {
    const template = podTemplateOf(object);
    if (template) result.push({ object, template });
  }
  return result;
}
