/** How many replicas a workload runs: its own spec.replicas or the HPA that scales it. */
import type { K8sObject } from "../core/types.js";
import { at, namespaceOf, nameOf, num, str } from "./read.js";
import { replicasOf } from "./workloads.js";

/** The HorizontalPodAutoscaler whose scaleTargetRef names `workload`, if any. */
export function hpaFor(objects: readonly K8sObject[], workload: K8sObject): K8sObject | undefined {
  return objects.find(
    (o) =>
      o.kind === "HorizontalPodAutoscaler" &&
      namespaceOf(o) === namespaceOf(workload) &&
      str(at(o, "spec", "scaleTargetRef", "kind")) === workload.kind &&
      str(at(o, "spec", "scaleTargetRef", "name")) === nameOf(workload),
  );
}

export function hpaMinReplicas(hpa: K8sObject): number {
  return num(at(hpa, "spec", "minReplicas")) ?? 1;
}

export function hpaMaxReplicas(hpa: K8sObject): number {
  return num(at(hpa, "spec", "maxReplicas")) ?? 1;
}

/** The fewest and most replicas a workload runs, or undefined for kinds without replicas. */
export function replicaRange(
  objects: readonly K8sObject[],
  workload: K8sObject,
): { min: number; max: number; hpa?: K8sObject } | undefined {
  const replicas = replicasOf(workload);
  if (replicas === undefined) return undefined;
  const hpa = hpaFor(objects, workload);
  return hpa ? { min: hpaMinReplicas(hpa), max: hpaMaxReplicas(hpa), hpa } : { min: replicas, max: replicas };
}
