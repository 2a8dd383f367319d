/**
 * The autoscaling/v2 HorizontalPodAutoscaler of an agent-server group: CPU and memory, optionally
 * active agents per pod (a Prometheus-adapter pods metric), with scale-down stabilization.
 */
import { Construct } from "constructs";
import * as k8s from "cdk8s-plus-27/lib/imports/k8s.js";
import { ACTIVE_AGENTS_METRIC } from "../runtime/config/names.js";
import { AGENT_STATUSES, TERMINAL_STATUSES } from "../runtime/protocol/index.js";
import { check, checkPositiveInt } from "./common.js";
import type { AutoscalingSpec } from "./platform.js";

/**
 * Agent statuses that hold a slot against maxAgents, as a PromQL regex: every status the runtime knows
 * except the terminal ones ("starting|running|paused|stopping"). The HPA's adapter rule
 * (docs/constructs.md) and the active-agents alert both select `zeroplane_agents` on it.
 */
export const ACTIVE_AGENT_STATUSES = AGENT_STATUSES.filter((status) => !TERMINAL_STATUSES.has(status)).join(
  "|",
);

/**
 * The custom metric the Prometheus adapter serves for the HPA. docs/constructs.md gives the adapter
 * rule that derives it from the runtime's `zeroplane_agents{status=~ACTIVE_AGENT_STATUSES}` gauge.
 */
export { ACTIVE_AGENTS_METRIC };

export interface AgentServerAutoscalerProps {
  /** Name, namespace and labels of the HPA. */
  readonly metadata: k8s.ObjectMeta;
  /** The workload to scale. */
  readonly target: { readonly kind: "Deployment" | "StatefulSet"; readonly name: string };
  /** Bounds, targets and scale-down stabilization. */
  readonly spec: AutoscalingSpec;
  /** The group's maxAgents: the active-agents target must not exceed it. */
  readonly maxAgents: number;
  /** How long one server may take to shut down (its pod's grace period): scale-down removes one per such period. */
  readonly drainSeconds: number;
  /** Prop path for error messages. */
  readonly prop: string;
}

export class AgentServerAutoscaler extends Construct {
  constructor(scope: Construct, id: string, props: AgentServerAutoscalerProps) {
    super(scope, id);
    validateAutoscaling(props.spec, props.maxAgents, props.prop);
    const spec = props.spec;
    const metrics: k8s.MetricSpecV2[] = [
      resourceMetric("cpu", spec.cpuUtilization ?? 70),
      resourceMetric("memory", spec.memoryUtilization ?? 80),
    ];
    if (spec.activeAgentsPerPod !== undefined) {
      metrics.push({
        type: "Pods",
        pods: {
          metric: { name: ACTIVE_AGENTS_METRIC },
          target: { type: "AverageValue", averageValue: k8s.Quantity.fromNumber(spec.activeAgentsPerPod) },
        },
      });
    }
    new k8s.KubeHorizontalPodAutoscalerV2(this, "hpa", {
      metadata: props.metadata,
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: props.target.kind, name: props.target.name },
        minReplicas: spec.minReplicas,
        maxReplicas: spec.maxReplicas,
        metrics,
        behavior: {
          scaleDown: {
            stabilizationWindowSeconds: spec.scaleDownStabilizationSeconds ?? 300,
            selectPolicy: "Min",
            policies: [{ type: "Pods", value: 1, periodSeconds: scaleDownPeriodSeconds(props.drainSeconds) }],
          },
          scaleUp: {
            stabilizationWindowSeconds: 0,
            selectPolicy: "Max",
            policies: [
              { type: "Percent", value: 100, periodSeconds: 30 },
              { type: "Pods", value: 4, periodSeconds: 30 },
            ],
          },
        },
      },
    });
  }
}

/** The API's ceiling for an HPA policy period. */
export const MAX_HPA_PERIOD_SECONDS = 1800;

/**
 * One pod per period, the period at least one full drain: the next pod starts draining only when the
 * previous one has had its whole grace period. At least 60 s, at most the API's 1800 s.
 */
export function scaleDownPeriodSeconds(drainSeconds: number): number {
  return Math.min(MAX_HPA_PERIOD_SECONDS, Math.max(60, drainSeconds));
}

function resourceMetric(name: "cpu" | "memory", averageUtilization: number): k8s.MetricSpecV2 {
  return { type: "Resource", resource: { name, target: { type: "Utilization", averageUtilization } } };
}

/** Checks an autoscaling spec; messages name the prop, the value and the fix. */
export function validateAutoscaling(spec: AutoscalingSpec, maxAgents: number, prop: string): void {
  checkPositiveInt(spec.minReplicas, `${prop}.minReplicas`, "use 2 or more for availability");
  checkPositiveInt(spec.maxReplicas, `${prop}.maxReplicas`, "use a whole number above minReplicas");
  check(
    spec.maxReplicas > spec.minReplicas,
    `${prop}.maxReplicas`,
    `must be greater than minReplicas (${spec.minReplicas}), or the HPA can never scale`,
    spec.maxReplicas,
    `raise maxReplicas above ${spec.minReplicas}, or drop autoscaling and set replicas`,
  );
  for (const key of ["cpuUtilization", "memoryUtilization"] as const) {
    const value = spec[key];
    if (value === undefined) continue;
    check(
      Number.isInteger(value) && value >= 10 && value <= 100,
      `${prop}.${key}`,
      "must be a whole percentage from 10 to 100",
      value,
      "use e.g. 70",
    );
  }
  if (spec.activeAgentsPerPod !== undefined) {
    checkPositiveInt(spec.activeAgentsPerPod, `${prop}.activeAgentsPerPod`, "use a whole number such as 50");
    check(
      spec.activeAgentsPerPod <= maxAgents,
      `${prop}.activeAgentsPerPod`,
      `is more than maxAgents (${maxAgents}); a pod can never reach that target, so the HPA would never scale up on it`,
      spec.activeAgentsPerPod,
      `use at most ${maxAgents} (about 80% of maxAgents works well: ${Math.max(1, Math.floor(maxAgents * 0.8))})`,
    );
  }
  if (spec.scaleDownStabilizationSeconds !== undefined) {
    check(
      Number.isInteger(spec.scaleDownStabilizationSeconds) &&
        spec.scaleDownStabilizationSeconds >= 0 &&
        spec.scaleDownStabilizationSeconds <= 3600,
      `${prop}.scaleDownStabilizationSeconds`,
      "must be whole seconds from 0 to 3600",
      spec.scaleDownStabilizationSeconds,
      "use e.g. 300",
    );
  }
}
