/**
 * Whole-tree checks for `node.addValidation`: rules that span objects, run when the app synthesizes,
 * so they also catch objects that someone adds to the platform after construction.
 */
import { ApiObject } from "cdk8s";
import type { Construct, IValidation } from "constructs";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- rendered manifests are untyped JSON

const WORKLOADS = new Set(["Deployment", "StatefulSet", "Job"]);

function podLabels(object: Json): Record<string, string> {
  return (object.spec?.template?.metadata?.labels ?? {}) as Record<string, string>;
}

function matches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return Object.entries(selector ?? {}).every(([key, value]) => labels[key] === value);
}

/** Cross-object rules: Services reach pods, HPA targets exist and carry no replicas, PDBs fit HPAs. */
export class PlatformTreeChecks implements IValidation {
  constructor(private readonly scope: Construct) {}

  validate(): string[] {
    const objects = this.scope.node
      .findAll()
      .filter((node): node is ApiObject => ApiObject.isApiObject(node))
      .map((node) => node.toJson() as Json);
    const workloads = objects.filter((object) => WORKLOADS.has(object.kind));
    const errors: string[] = [];
    const seen = new Set<string>();
    for (const object of objects) {
      const id = `${object.kind}/${object.metadata?.name}`;
      if (seen.has(id)) errors.push(`${id} is emitted twice. Fix: give the second object another name.`);
      seen.add(id);
    }
    for (const service of objects.filter((object) => object.kind === "Service")) {
      const selector = service.spec?.selector as Record<string, string> | undefined;
      if (!workloads.some((workload) => matches(selector, podLabels(workload)))) {
        errors.push(
          `Service/${service.metadata.name} selects no pods (selector ${JSON.stringify(selector)}). Fix: match a workload's pod labels.`,
        );
      }
    }
    for (const hpa of objects.filter((object) => object.kind === "HorizontalPodAutoscaler")) {
      const ref = hpa.spec.scaleTargetRef as { kind: string; name: string };
      const target = workloads.find(
        (workload) => workload.kind === ref.kind && workload.metadata.name === ref.name,
      );
      if (!target) {
        errors.push(
          `HorizontalPodAutoscaler/${hpa.metadata.name} targets a missing ${ref.kind}/${ref.name}. Fix: target an emitted workload.`,
        );
        continue;
      }
      if (target.spec.replicas !== undefined) {
        errors.push(
          `${ref.kind}/${ref.name} sets replicas ${target.spec.replicas} but HorizontalPodAutoscaler/${hpa.metadata.name} manages it. Fix: remove replicas.`,
        );
      }
      for (const pdb of objects.filter((object) => object.kind === "PodDisruptionBudget")) {
        const minAvailable = pdb.spec.minAvailable;
        if (
          typeof minAvailable === "number" &&
          matches(pdb.spec.selector?.matchLabels, podLabels(target)) &&
          minAvailable > hpa.spec.minReplicas
        ) {
          errors.push(
            `PodDisruptionBudget/${pdb.metadata.name} minAvailable ${minAvailable} exceeds HorizontalPodAutoscaler/${hpa.metadata.name} minReplicas ${hpa.spec.minReplicas}. Fix: lower minAvailable.`,
          );
        }
      }
    }
    return errors;
  }
}
