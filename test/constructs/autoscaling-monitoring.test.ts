/**
 * Autoscaling (autoscaling/v2 HPA) and monitoring (monitors, alert rules, dashboard). The alert rules
 * are checked against the metric names the runtime really registers.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { createEventsMetrics } from "../../runtime/events/metrics.js";
import { ServerMetrics } from "../../runtime/observability/metrics.js";
import { ACTIVE_AGENTS_METRIC, ACTIVE_AGENT_STATUSES } from "../../constructs/autoscaling.js";
import { ACTIVE_STATUSES, METRICS } from "../../constructs/monitoring.js";
import { AGENT_STATUSES, ERROR_CODES, TERMINAL_STATUSES } from "../../runtime/protocol/index.js";
import { exampleSpec, find, minimalSpec, ofKind, synth } from "./fixtures.js";

const prod = synth(exampleSpec("prod")).objects;

describe("autoscaling", () => {
  const hpa = find(prod, "HorizontalPodAutoscaler", "zeroplane-default");

  it("matches the snapshot of the HPA", () => {
    expect(stringify(hpa)).toMatchSnapshot();
  });

  it("scales the group's Deployment on CPU and memory, and on active agents per pod when asked", () => {
    expect(hpa.apiVersion).toBe("autoscaling/v2");
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: "zeroplane-default",
    });
    expect(hpa.spec.metrics).toEqual([
      {
        type: "Resource",
        resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
      },
      {
        type: "Resource",
        resource: { name: "memory", target: { type: "Utilization", averageUtilization: 80 } },
      },
      {
        type: "Pods",
        pods: { metric: { name: ACTIVE_AGENTS_METRIC }, target: { type: "AverageValue", averageValue: 80 } },
      },
    ]);
    expect(find(prod, "HorizontalPodAutoscaler", "zeroplane-internal").spec.metrics).toHaveLength(2);
  });

  it("stabilizes scale-down", () => {
    expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
    const custom = synth(
      minimalSpec({
        agentServers: [
          {
            name: "default",
            autoscaling: { minReplicas: 2, maxReplicas: 4, scaleDownStabilizationSeconds: 900 },
          },
        ],
      }),
    ).objects;
    expect(
      find(custom, "HorizontalPodAutoscaler", "zeroplane-default").spec.behavior.scaleDown
        .stabilizationWindowSeconds,
    ).toBe(900);
  });

  it("leaves replicas off every HPA-targeted workload", () => {
    for (const target of ofKind(prod, "HorizontalPodAutoscaler").map(
      (h) => h.spec.scaleTargetRef.name as string,
    )) {
      expect(find(prod, "Deployment", target).spec.replicas).toBeUndefined();
    }
  });

  it("keeps the PDB's minAvailable at or below the HPA's minimum (or lets one drain at a time)", () => {
    for (const hpaObject of ofKind(prod, "HorizontalPodAutoscaler")) {
      const pdb = find(prod, "PodDisruptionBudget", hpaObject.metadata.name);
      if (pdb.spec.minAvailable === undefined) expect(pdb.spec.maxUnavailable).toBe(1);
      else expect(pdb.spec.minAvailable).toBeLessThanOrEqual(hpaObject.spec.minReplicas);
    }
    expect(find(prod, "PodDisruptionBudget", "zeroplane-default").spec.minAvailable).toBe(2);
  });

  it("can target a StatefulSet group", () => {
    const objects = synth(
      minimalSpec({
        agentServers: [
          { name: "default", workload: "StatefulSet", autoscaling: { minReplicas: 2, maxReplicas: 5 } },
        ],
      }),
    ).objects;
    expect(find(objects, "HorizontalPodAutoscaler", "zeroplane-default").spec.scaleTargetRef.kind).toBe(
      "StatefulSet",
    );
    expect(find(objects, "StatefulSet", "zeroplane-default").spec.replicas).toBeUndefined();
  });
});

describe("monitoring", () => {
  const rules = find(prod, "PrometheusRule", "zeroplane-alerts").spec.groups[0].rules as {
    alert: string;
    expr: string;
    for: string;
  }[];
  const byName = (name: string) => rules.filter((rule) => rule.alert === name);

  it("matches the snapshot of the alert rules", () => {
    expect(stringify(rules)).toMatchSnapshot();
  });

  it("uses only metric names the runtime registers", async () => {
    const { registry } = new ServerMetrics();
    // The event publisher registers its metrics on the server's registry when NATS is on.
    createEventsMetrics(registry, {
      spoolEvents: () => 0,
      spoolBytes: () => 0,
      connected: () => true,
      spoolUnavailable: () => false,
      spoolDiskFreeBytes: () => null,
    });
    const registered = new Set((await registry.getMetricsAsJSON()).map((metric) => metric.name));
    for (const name of Object.values(METRICS)) expect(registered.has(name), name).toBe(true);
    const used = new Set(rules.flatMap((rule) => rule.expr.match(/zeroplane_[a-z_]+/g) ?? []));
    for (const name of used) expect(registered.has(name.replace(/_bucket$/, "")), name).toBe(true);
  });

  it("alerts on every condition operators need", () => {
    expect(byName("ZeroplaneServerUnhealthy")[0]).toMatchObject({ for: "5m" });
    expect(byName("ZeroplaneSpawnFailureRateHigh")[0]!.expr).toMatch(
      /zeroplane_spawn_failures_total.*zeroplane_spawns_total.*> 0\.1$/,
    );
    expect(byName("ZeroplaneRequestTimeoutRateHigh")[0]!.expr).toMatch(/result="TIMEOUT".*> 0\.05$/);
    expect(byName("ZeroplaneAuthRejectionSpike")[0]!.expr).toMatch(/zeroplane_auth_rejections_total/);
    expect(byName("ZeroplaneNatsJetStreamUnhealthy")[0]!.expr).toMatch(/statefulset="zeroplane-nats"/);
  });

  it("selects request results only by real error codes (or ok)", () => {
    const known = new Set<string>([...Object.values(ERROR_CODES), "ok"]);
    const results = rules.flatMap((rule) =>
      [...rule.expr.matchAll(/\bresult\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].flatMap((m) => m[2]!.split("|")),
    );
    expect(results).toContain(ERROR_CODES.TIMEOUT);
    for (const result of results) expect(known.has(result), result).toBe(true);
  });

  it("alerts on lost lifecycle events for every group that publishes to NATS", () => {
    const dropped = byName("ZeroplaneLifecycleEventsDropped");
    const disconnected = byName("ZeroplaneNatsDisconnected");
    expect(dropped.map((rule) => rule.expr)).toEqual(
      ["zeroplane-default", "zeroplane-internal"].map(
        (group) =>
          `sum by (pod) (increase(zeroplane_events_spool_dropped_total{namespace="zeroplane-prod", app_kubernetes_io_component="agent-server", app_kubernetes_io_part_of="zeroplane", app_kubernetes_io_instance="${group}"}[5m])) > 0`,
      ),
    );
    expect(disconnected).toHaveLength(2);
    for (const rule of disconnected) {
      expect(rule.expr).toMatch(/^max by \(pod\) \(zeroplane_events_nats_connected\{.*\}\) == 0$/);
      expect(rule.for).toBe("5m");
    }
    const unwritable = byName("ZeroplaneEventSpoolUnwritable");
    expect(unwritable).toHaveLength(2);
    for (const rule of unwritable) {
      expect(rule.expr).toMatch(/^max by \(pod\) \(zeroplane_events_spool_unavailable\{.*\}\) == 1$/);
      expect(rule.for).toBe("1m");
    }
  });

  it("has no lost-event alerts when the platform runs without NATS", () => {
    const objects = synth(minimalSpec({ monitoring: { enabled: true } })).objects;
    const alerts = find(objects, "PrometheusRule", "zeroplane-alerts").spec.groups[0].rules.map(
      (rule: { alert: string }) => rule.alert,
    );
    expect(alerts).toContain("ZeroplaneActiveAgentsNearMax");
    expect(alerts).not.toContain("ZeroplaneLifecycleEventsDropped");
    expect(alerts).not.toContain("ZeroplaneNatsDisconnected");
  });

  it("counts the same active statuses in the alert and in the documented HPA adapter rule", () => {
    const nonTerminal = AGENT_STATUSES.filter((status) => !TERMINAL_STATUSES.has(status));
    expect(ACTIVE_AGENT_STATUSES.split("|")).toEqual(nonTerminal);
    expect(ACTIVE_STATUSES).toBe(ACTIVE_AGENT_STATUSES);
    for (const rule of byName("ZeroplaneActiveAgentsNearMax")) {
      expect(rule.expr).toContain(`status=~"${ACTIVE_AGENT_STATUSES}"`);
    }
    const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "constructs.md"), "utf8");
    // Markdown tables escape the regex's "|" as "\|".
    const documented = [...doc.matchAll(/status=~"([^"]+)"/g)].map((m) => m[1]!.replaceAll("\\|", "|"));
    expect(documented.length).toBeGreaterThan(0);
    for (const statuses of documented) expect(statuses).toBe(ACTIVE_AGENT_STATUSES);
  });

  it("uses each group's own maxAgents and memory limit for the 90% alerts", () => {
    const agents = byName("ZeroplaneActiveAgentsNearMax");
    expect(agents.map((rule) => rule.expr.match(/> (\d+)$/)![1])).toEqual(["90", "90"]);
    const memory = byName("ZeroplaneMemoryNearLimit");
    expect(memory[0]!.expr).toMatch(new RegExp(`> ${Math.floor(0.9 * 4 * 1024 ** 3)}$`));
    expect(memory[1]!.expr).toMatch(new RegExp(`> ${Math.floor(0.9 * 1024 ** 3)}$`));
    expect(memory[0]!.expr).toContain('pod=~"zeroplane-default-[a-z0-9]+-[a-z0-9]+"');
  });

  it("scrapes the agent servers with a ServiceMonitor, or a PodMonitor when asked", () => {
    const monitor = find(prod, "ServiceMonitor", "zeroplane-agent-servers");
    expect(monitor.metadata.labels).toMatchObject({ release: "kube-prometheus-stack" });
    expect(monitor.spec.endpoints[0]).toMatchObject({ port: "http-metrics", path: "/metrics" });
    const staging = synth(exampleSpec("staging")).objects;
    expect(find(staging, "PodMonitor", "zeroplane-agent-servers").spec.podMetricsEndpoints[0].port).toBe(
      "http-metrics",
    );
    expect(ofKind(staging, "ServiceMonitor")).toEqual([]);
  });

  it("ships a Grafana dashboard ConfigMap with valid JSON", () => {
    const dashboard = find(prod, "ConfigMap", "zeroplane-dashboard");
    expect(dashboard.metadata.labels).toMatchObject({ grafana_dashboard: "1" });
    const parsed = JSON.parse(dashboard.data!["zeroplane.json"]!) as {
      panels: { targets: { expr: string }[] }[];
    };
    expect(parsed.panels.length).toBeGreaterThanOrEqual(6);
    expect(
      parsed.panels.every((panel) => panel.targets[0]!.expr.includes('namespace="zeroplane-prod"')),
    ).toBe(true);
  });

  it("draws spawns and spawn failures as two queries: `or` would hide failures behind same-labelled spawns", () => {
    const parsed = JSON.parse(find(prod, "ConfigMap", "zeroplane-dashboard").data!["zeroplane.json"]!) as {
      panels: { title: string; targets: { refId: string; expr: string }[] }[];
    };
    const spawns = parsed.panels.find((panel) => panel.title === "Spawns and spawn failures")!;
    expect(spawns.targets.map((target) => target.refId)).toEqual(["A", "B"]);
    expect(spawns.targets[0]!.expr).toContain("zeroplane_spawns_total");
    expect(spawns.targets[1]!.expr).toContain("zeroplane_spawn_failures_total");
    for (const panel of parsed.panels) {
      for (const target of panel.targets) expect(target.expr, panel.title).not.toMatch(/\bor\b/);
    }
  });

  it("is absent when monitoring is off", () => {
    const dev = synth(exampleSpec("dev")).objects;
    for (const kind of ["ServiceMonitor", "PodMonitor", "PrometheusRule"])
      expect(ofKind(dev, kind)).toEqual([]);
    expect(dev.some((object) => object.metadata.name === "zeroplane-dashboard")).toBe(false);
  });
});
