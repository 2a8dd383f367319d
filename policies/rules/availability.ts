/** Replicas, autoscaling, disruption budgets and spreading (CHECKS.md section G). */
import type { K8sObject, ObjectFinding, ObjectRule, Rule, SetRule } from "../core/types.js";
import { at, describeObject, hasValue, isRecord, list, namespaceOf, num, record, str } from "../k8s/read.js";
import { hpaFor, hpaMaxReplicas, hpaMinReplicas, replicaRange } from "../k8s/scaling.js";
import { labelSelectorMatches } from "../k8s/selectors.js";
import { servicesNamed } from "../k8s/services.js";
import { podTemplateOf, REPLICATED_KINDS, workloadsIn } from "../k8s/workloads.js";
import { findingOnEach } from "./define.js";

const SCALED_KINDS = ["Deployment", "StatefulSet"];

function replicated(objects: readonly K8sObject[]): K8sObject[] {
  return objects.filter((o) => SCALED_KINDS.includes(o.kind));
}

/** PodDisruptionBudgets in the workload's namespace whose selector matches its pods. */
function budgetsFor(objects: readonly K8sObject[], workload: K8sObject): K8sObject[] {
  const template = podTemplateOf(workload);
  if (!template) return [];
  return objects.filter(
    (o) =>
      o.kind === "PodDisruptionBudget" &&
      namespaceOf(o) === namespaceOf(workload) &&
      labelSelectorMatches(at(o, "spec", "selector"), template.labels),
  );
}

/** Workloads a PodDisruptionBudget covers. */
function workloadsOfBudget(objects: readonly K8sObject[], budget: K8sObject): K8sObject[] {
  return replicated(objects).filter((w) => budgetsFor(objects, w).includes(budget));
}

const setRules: readonly SetRule[] = [
  {
    id: "replicas-min-2",
    severity: "error",
    scope: "set",
    productionOnly: true,
    description: "In production, Deployments and StatefulSets not scaled by an HPA run at least 2 replicas.",
    fix: "Set spec.replicas to 2 or more, or let an HPA with minReplicas >= 2 scale the workload.",
    checks: ["replicas-min-2"],
    check(objects) {
      return replicated(objects)
        .filter((w) => !hpaFor(objects, w))
        .filter((w) => (num(at(w, "spec", "replicas")) ?? 1) < 2)
        .map((w) => ({
          object: w,
          message: `runs ${num(at(w, "spec", "replicas")) ?? 1} replica(s)`,
          path: ["spec", "replicas"],
        }));
    },
  },
  {
    id: "hpa-no-static-replicas",
    severity: "error",
    scope: "set",
    description: "A workload that an HPA scales does not set spec.replicas (each apply would fight the HPA).",
    fix: "Remove spec.replicas from the workload; the HPA's minReplicas sets the floor.",
    checks: ["hpa-no-static-replicas"],
    check(objects) {
      const flagged = objects
        .filter(
          (o) =>
            (REPLICATED_KINDS as readonly string[]).includes(o.kind) && hasValue(at(o, "spec"), "replicas"),
        )
        .filter((w) => hpaFor(objects, w));
      return findingOnEach(flagged, "is scaled by an HPA but sets spec.replicas", ["spec", "replicas"]);
    },
  },
  {
    id: "hpa-has-target",
    severity: "error",
    scope: "set",
    description: "Every HPA's scaleTargetRef names a workload among the objects.",
    fix: "Fix spec.scaleTargetRef (kind and name) to name the Deployment or StatefulSet.",
    checks: ["hpa-has-target"],
    check(objects) {
      return objects
        .filter((o) => o.kind === "HorizontalPodAutoscaler")
        .filter((hpa) => !objects.some((w) => hpaFor([hpa], w) === hpa))
        .map((hpa) => ({
          object: hpa,
          message: `scaleTargetRef ${str(at(hpa, "spec", "scaleTargetRef", "kind")) ?? "?"}/${str(at(hpa, "spec", "scaleTargetRef", "name")) ?? "?"} is not among the objects`,
          path: ["spec", "scaleTargetRef"],
        }));
    },
  },
  {
    id: "sts-headless-service",
    severity: "error",
    scope: "set",
    description:
      "Every StatefulSet's serviceName names a headless Service (clusterIP: None) among the objects.",
    fix: "Create a headless Service (clusterIP: None) selecting the StatefulSet's pods and set spec.serviceName to it.",
    checks: ["sts-headless-service"],
    check(objects) {
      return objects
        .filter((o) => o.kind === "StatefulSet")
        .filter((sts) => {
          const serviceName = str(at(sts, "spec", "serviceName"));
          return !servicesNamed(objects, serviceName, namespaceOf(sts)).some(
            (service) => str(at(service, "spec", "clusterIP")) === "None",
          );
        })
        .map((sts) => ({
          object: sts,
          message: `serviceName "${str(at(sts, "spec", "serviceName")) ?? ""}" is not a headless Service among the objects`,
          path: ["spec", "serviceName"],
        }));
    },
  },
  {
    id: "pdb-exists",
    severity: "error",
    scope: "set",
    description:
      "Every workload that runs (or can scale to) 2 or more replicas is selected by a PodDisruptionBudget.",
    fix: "Add a PodDisruptionBudget (maxUnavailable: 1, or minAvailable below the replica floor) selecting the workload's pods.",
    checks: ["pdb-exists"],
    check(objects) {
      const flagged = replicated(objects).filter(
        (w) => (replicaRange(objects, w)?.max ?? 1) >= 2 && budgetsFor(objects, w).length === 0,
      );
      return findingOnEach(flagged, "no PodDisruptionBudget selects its pods", [
        "spec",
        "template",
        "metadata",
        "labels",
      ]);
    },
  },
  {
    id: "pdb-vs-hpa",
    severity: "error",
    scope: "set",
    description:
      "A PodDisruptionBudget's minAvailable is at most the replica floor of the workloads it covers (the HPA's minReplicas, or spec.replicas).",
    fix: "Lower minAvailable to the HPA's minReplicas (or replicas) minus one, or use maxUnavailable: 1.",
    checks: ["pdb-vs-hpa"],
    check(objects) {
      const findings: ObjectFinding[] = [];
      for (const budget of objects.filter((o) => o.kind === "PodDisruptionBudget")) {
        const minAvailable = num(at(budget, "spec", "minAvailable"));
        if (minAvailable === undefined) continue;
        for (const w of workloadsOfBudget(objects, budget)) {
          const range = replicaRange(objects, w);
          if (range && minAvailable > range.min) {
            findings.push({
              object: budget,
              message: `minAvailable ${minAvailable} exceeds ${describeObject(w)}'s floor of ${range.min} (${range.hpa ? "HPA minReplicas" : "spec.replicas"})`,
              path: ["spec", "minAvailable"],
            });
          }
        }
      }
      return findings;
    },
  },
  {
    id: "pdb-allows-eviction",
    severity: "warning",
    scope: "set",
    description: "A PodDisruptionBudget lets at least one pod be evicted (node drains would hang otherwise).",
    fix: "Use maxUnavailable: 1, or a minAvailable below the replica floor.",
    checks: ["pdb-allows-eviction"],
    check(objects) {
      const findings: ObjectFinding[] = [];
      for (const budget of objects.filter((o) => o.kind === "PodDisruptionBudget")) {
        const maxUnavailable = at(budget, "spec", "maxUnavailable");
        const minAvailable = at(budget, "spec", "minAvailable");
        if (maxUnavailable === 0 || maxUnavailable === "0%") {
          findings.push({ object: budget, message: "maxUnavailable is 0", path: ["spec", "maxUnavailable"] });
        } else if (minAvailable === "100%") {
          findings.push({ object: budget, message: "minAvailable is 100%", path: ["spec", "minAvailable"] });
        } else if (typeof minAvailable === "number") {
          for (const w of workloadsOfBudget(objects, budget)) {
            const range = replicaRange(objects, w);
            if (range && minAvailable >= range.min) {
              findings.push({
                object: budget,
                message: `minAvailable ${minAvailable} leaves no eviction for ${describeObject(w)} at ${range.min} replica(s)`,
                path: ["spec", "minAvailable"],
              });
            }
          }
        }
      }
      return findings;
    },
  },
  {
    id: "spread",
    severity: "warning",
    scope: "set",
    description:
      "Multi-replica workloads spread their pods (topologySpreadConstraints with a labelSelector, or pod anti-affinity).",
    fix: "Add topologySpreadConstraints over topology.kubernetes.io/zone and kubernetes.io/hostname with a labelSelector matching the pods.",
    checks: ["spread"],
    check(objects) {
      return workloadsIn(replicated(objects))
        .filter(({ object }) => (replicaRange(objects, object)?.max ?? 1) >= 2)
        .filter(({ template }) => {
          const constraints = list(template.spec.topologySpreadConstraints).filter((c) =>
            isRecord(at(c, "labelSelector")),
          );
          return constraints.length === 0 && !record(at(template.spec, "affinity", "podAntiAffinity"));
        })
        .map(({ object, template }) => ({
          object,
          message: "does not spread its pods",
          path: [...template.specPath, "topologySpreadConstraints"],
        }));
    },
  },
];

const objectRules: readonly ObjectRule[] = [
  {
    id: "hpa-min-2",
    severity: "error",
    scope: "object",
    kinds: ["HorizontalPodAutoscaler"],
    productionOnly: true,
    description: "In production, HPAs keep at least 2 replicas (minReplicas >= 2).",
    fix: "Set spec.minReplicas to 2 or more.",
    checks: ["hpa-min-2"],
    check: (hpa) =>
      hpaMinReplicas(hpa) < 2
        ? [{ message: `minReplicas is ${hpaMinReplicas(hpa)}`, path: ["spec", "minReplicas"] }]
        : [],
  },
  {
    id: "hpa-max-gt-min",
    severity: "warning",
    scope: "object",
    kinds: ["HorizontalPodAutoscaler"],
    description: "An HPA's maxReplicas is above its minReplicas (otherwise it cannot scale).",
    fix: "Raise spec.maxReplicas above spec.minReplicas.",
    checks: ["hpa-max-gt-min"],
    check: (hpa) =>
      hpaMaxReplicas(hpa) > hpaMinReplicas(hpa)
        ? []
        : [
            {
              message: `maxReplicas ${hpaMaxReplicas(hpa)} is not above minReplicas ${hpaMinReplicas(hpa)}`,
              path: ["spec", "maxReplicas"],
            },
          ],
  },
  {
    id: "rolling-update",
    severity: "warning",
    scope: "object",
    kinds: ["Deployment"],
    description: "Deployments roll out with the RollingUpdate strategy (Recreate takes the service down).",
    fix: "Remove spec.strategy or set spec.strategy.type: RollingUpdate.",
    checks: ["rolling-update"],
    check: (d) => {
      const type = str(at(d, "spec", "strategy", "type"));
      return type === undefined || type === "RollingUpdate"
        ? []
        : [{ message: `strategy is ${type}`, path: ["spec", "strategy", "type"] }];
    },
  },
  {
    id: "selector-matches-template",
    severity: "error",
    scope: "object",
    kinds: ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"],
    description: "The workload's spec.selector matches its pod template's labels.",
    fix: "Make spec.selector.matchLabels a subset of spec.template.metadata.labels.",
    checks: ["selector-matches-template"],
    check: (w) => {
      const template = podTemplateOf(w);
      return template && labelSelectorMatches(at(w, "spec", "selector"), template.labels)
        ? []
        : [{ message: "spec.selector does not match the pod template labels", path: ["spec", "selector"] }];
    },
  },
  {
    id: "pdb-has-policy",
    severity: "error",
    scope: "object",
    kinds: ["PodDisruptionBudget"],
    description: "A PodDisruptionBudget sets minAvailable or maxUnavailable.",
    fix: "Set spec.maxUnavailable: 1 (or a minAvailable below the replica floor).",
    checks: ["pdb-has-policy"],
    check: (pdb) =>
      !hasValue(at(pdb, "spec"), "minAvailable") && !hasValue(at(pdb, "spec"), "maxUnavailable")
        ? [{ message: "neither minAvailable nor maxUnavailable is set", path: ["spec"] }]
        : [],
  },
  {
    id: "cronjob-deadline",
    severity: "warning",
    scope: "object",
    kinds: ["CronJob"],
    description: "CronJobs set startingDeadlineSeconds (missed schedules otherwise pile up).",
    fix: "Set spec.startingDeadlineSeconds, for example 300.",
    checks: ["cronjob-deadline"],
    check: (c) =>
      num(at(c, "spec", "startingDeadlineSeconds")) === undefined
        ? [{ message: "startingDeadlineSeconds is not set", path: ["spec", "startingDeadlineSeconds"] }]
        : [],
  },
  {
    id: "cronjob-restartpolicy",
    severity: "error",
    scope: "object",
    kinds: ["Job", "CronJob"],
    description: "Job and CronJob pods use restartPolicy OnFailure or Never.",
    fix: "Set the pod template's restartPolicy to OnFailure or Never.",
    checks: ["cronjob-restartpolicy"],
    check: (job) => {
      const template = podTemplateOf(job);
      const policy = str(template?.spec.restartPolicy);
      return policy === "OnFailure" || policy === "Never"
        ? []
        : [
            {
              message: `restartPolicy is ${policy ?? "unset"}`,
              path: [...(template?.specPath ?? ["spec"]), "restartPolicy"],
            },
          ];
    },
  },
];

export const availabilityRules: readonly Rule[] = [...setRules, ...objectRules];
