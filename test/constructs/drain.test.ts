/**
 * The drain that waits, in the manifests: agentDrainMs reaches the server, and the pod's grace
 * period, the PodDisruptionBudget and the HPA's scale-down are derived from it.
 */
import { describe, expect, it } from "vitest";
import { ENV_VARS, defaultConfig, loadConfig } from "../../runtime/config/index.js";
import { shutdownBudgetMs } from "../../runtime/server/drain.js";
import { TERMINATION_MARGIN_SECONDS } from "../../constructs/agent-server.js";
import { MAX_HPA_PERIOD_SECONDS } from "../../constructs/autoscaling.js";
import type { AgentServerGroupSpec } from "../../constructs/platform.js";
import { exampleSpec, find, minimalSpec, synth, type K8sObject } from "./fixtures.js";

function group(spec: Omit<AgentServerGroupSpec, "name">): K8sObject[] {
  return synth(minimalSpec({ agentServers: [{ name: "default", ...spec }] })).objects;
}

function serverEnv(objects: K8sObject[]): Record<string, string> {
  const container = find(objects, "Deployment", "zeroplane-default").spec.template.spec.containers[0];
  return Object.fromEntries(
    (container.env as { name: string; value?: string }[]).map((e) => [e.name, e.value ?? "pod-0"]),
  );
}

const graceOf = (objects: K8sObject[]) =>
  find(objects, "Deployment", "zeroplane-default").spec.template.spec.terminationGracePeriodSeconds;
const scaleDownOf = (objects: K8sObject[]) =>
  find(objects, "HorizontalPodAutoscaler", "zeroplane-default").spec.behavior.scaleDown;

describe("agentDrainMs", () => {
  it("reaches the server as server.agentDrainMs through the runtime's own loader", () => {
    const config = loadConfig({ env: serverEnv(group({ agentDrainMs: 600_000, shutdownGraceMs: 20_000 })) });
    expect(config.server.agentDrainMs).toBe(600_000);
    expect(config.server.shutdownGraceMs).toBe(20_000);
    expect(loadConfig({ env: serverEnv(group({})) }).server.agentDrainMs).toBe(
      defaultConfig().server.agentDrainMs,
    );
  });

  it("gives the pod the server's whole shutdown budget plus the margin as its grace period", () => {
    const drain = { agentDrainMs: 600_000, shutdownGraceMs: 20_000 };
    expect(graceOf(group(drain))).toBe(shutdownBudgetMs(drain) / 1000 + TERMINATION_MARGIN_SECONDS);
    expect(graceOf(group(drain))).toBe(630);
    // Without an agent drain nothing changes: the shutdown grace plus the margin.
    expect(graceOf(group({}))).toBe(
      defaultConfig().server.shutdownGraceMs / 1000 + TERMINATION_MARGIN_SECONDS,
    );
  });

  it("lets one draining server out at a time through the PDB, unless minAvailable is chosen", () => {
    const drained = find(
      group({ agentDrainMs: 300_000, replicas: 4 }),
      "PodDisruptionBudget",
      "zeroplane-default",
    ).spec;
    expect(drained.maxUnavailable).toBe(1);
    expect(drained.minAvailable).toBeUndefined();
    const chosen = find(
      group({ agentDrainMs: 300_000, replicas: 4, minAvailable: 3 }),
      "PodDisruptionBudget",
      "zeroplane-default",
    ).spec;
    expect(chosen).toMatchObject({ minAvailable: 3 });
    expect(chosen.maxUnavailable).toBeUndefined();
    const immediate = find(group({ replicas: 4 }), "PodDisruptionBudget", "zeroplane-default").spec;
    expect(immediate).toMatchObject({ minAvailable: 1 });
  });

  it("scales down one pod per full drain, within the HPA API's 1800 s period limit", () => {
    const autoscaling = { minReplicas: 2, maxReplicas: 6 };
    expect(scaleDownOf(group({ autoscaling, agentDrainMs: 600_000 })).policies).toEqual([
      { type: "Pods", value: 1, periodSeconds: 600 + 25 + TERMINATION_MARGIN_SECONDS },
    ]);
    expect(scaleDownOf(group({ autoscaling, agentDrainMs: 7_200_000 })).policies).toEqual([
      { type: "Pods", value: 1, periodSeconds: MAX_HPA_PERIOD_SECONDS },
    ]);
    // A short drain keeps the one-pod-a-minute floor.
    expect(scaleDownOf(group({ autoscaling })).policies).toEqual([
      { type: "Pods", value: 1, periodSeconds: 60 },
    ]);
  });

  it("is refused when negative or fractional, naming the prop and the fix", () => {
    expect(() => group({ agentDrainMs: -1 })).toThrow(
      /agentServers\[default\]\.agentDrainMs: must be a whole number of at least 0; got -1\. Fix: /,
    );
    expect(() => group({ agentDrainMs: 1.5 })).toThrow(/agentDrainMs/);
  });

  it("is used by the prod example's internal group", () => {
    const prod = synth(exampleSpec("prod")).objects;
    const internal = find(prod, "Deployment", "zeroplane-internal").spec.template.spec;
    expect(internal.terminationGracePeriodSeconds).toBe(240 + 25 + TERMINATION_MARGIN_SECONDS);
    expect(find(prod, "PodDisruptionBudget", "zeroplane-internal").spec.maxUnavailable).toBe(1);
    const env = (internal.containers[0].env as { name: string; value?: string }[]).find(
      (e) => e.name === ENV_VARS["server.agentDrainMs"],
    );
    expect(env?.value).toBe("240000");
  });
});
