/**
 * Monitoring: a ServiceMonitor or PodMonitor for the agent servers, a PrometheusRule with the alerts
 * operators need, and a Grafana dashboard ConfigMap. Metric names come from runtime/config/names.ts,
 * which the runtime's metric definitions use too; the alert thresholds use each group's own limits.
 */
import { Construct } from "constructs";
import * as k8s from "cdk8s-plus-27/lib/imports/k8s.js";
import {
  EVENTS_METRIC_NAMES,
  HTTP_PATHS,
  METRIC_LABELS,
  SERVER_METRIC_NAMES,
} from "../runtime/config/names.js";
import { ERROR_CODES } from "../runtime/protocol/index.js";
import { AGENT_SERVER_CONTAINER, AGENT_SERVER_PORT_NAMES } from "./agent-server.js";
import { ACTIVE_AGENT_STATUSES } from "./autoscaling.js";
import { LABELS, checkLabels, parseQuantity, sortedRecord, recommendedLabels } from "./common.js";
import { PodMonitor, PrometheusRule, ServiceMonitor, type AlertRule } from "./crds.js";

/** The runtime's metric names the alerts and the dashboard use (runtime/config/names.ts). */
export const METRICS = {
  requests: SERVER_METRIC_NAMES.requests,
  requestDuration: SERVER_METRIC_NAMES.requestDuration,
  spawns: SERVER_METRIC_NAMES.spawns,
  spawnFailures: SERVER_METRIC_NAMES.spawnFailures,
  authRejections: SERVER_METRIC_NAMES.authRejections,
  agents: SERVER_METRIC_NAMES.agents,
  /** Lifecycle events dropped from a full spool. */
  eventsDropped: EVENTS_METRIC_NAMES.spoolDropped,
  /** 1 while the server's NATS connection is up. */
  natsConnected: EVENTS_METRIC_NAMES.natsConnected,
  /** 1 while the spool's disk fails or is nearly full (runtime/events/metrics.ts). */
  spoolUnavailable: EVENTS_METRIC_NAMES.spoolUnavailable,
  /** Spawns refused because the spool was nearly full (the refuse-spawns overflow policy). */
  spawnsRefused: EVENTS_METRIC_NAMES.spawnsRefused,
  /** 1 while the server heartbeats into the cluster registry (JetStream KV). */
  registryReady: EVENTS_METRIC_NAMES.registryReady,
} as const;

/** Agent statuses that hold a slot against maxAgents (the same regex the HPA's adapter rule uses). */
export const ACTIVE_STATUSES = ACTIVE_AGENT_STATUSES;

/** Pod labels copied onto every scraped series, so alerts can select a platform and a group. */
const TARGET_LABELS = [LABELS.instance, LABELS.component, LABELS.partOf];
const promLabel = (label: string): string => label.replace(/[^a-zA-Z0-9_]/g, "_");

export interface MonitoredGroup {
  /** Object name (the `app.kubernetes.io/instance` label). */
  readonly name: string;
  /** Decides how pod names look (for the memory alert's pod regex). */
  readonly workloadKind: "Deployment" | "StatefulSet";
  /** The group's maxAgents: the active-agents alert fires above 90% of it. */
  readonly maxAgents: number;
  /** The container memory limit: the memory alert fires above 90% of it. */
  readonly memoryLimit: string;
  /** The group publishes lifecycle events to NATS: adds the lost-event alerts. @default false */
  readonly natsEvents?: boolean;
}

export interface MonitoringProps {
  /** Namespace of the monitored platform (and of the monitoring objects). */
  readonly namespace: string;
  /** Platform name: selects the agent servers by `app.kubernetes.io/part-of`. */
  readonly platformName: string;
  /** Scrape through the Services or straight from the pods. */
  readonly scrapeKind: "ServiceMonitor" | "PodMonitor";
  /** Labels Prometheus selects monitors and rules by. */
  readonly selectorLabels: Readonly<Record<string, string>>;
  /** The agent-server groups, for per-group thresholds. */
  readonly groups: readonly MonitoredGroup[];
  /** The NATS StatefulSet name, for the JetStream alert. @default no NATS alert */
  readonly natsStatefulSet?: string;
  /** Emit the Grafana dashboard ConfigMap. */
  readonly dashboard: boolean;
  /** Labels on every object. @default none */
  readonly labels?: Readonly<Record<string, string>>;
}

export class Monitoring extends Construct {
  /** The alert rules, as emitted. */
  readonly rules: readonly AlertRule[];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    checkLabels(props.selectorLabels, "monitoring.selectorLabels");
    const ns = props.namespace;
    const name = props.platformName;
    const labels = recommendedLabels(
      { ...props.labels, ...props.selectorLabels },
      { name: "zeroplane", instance: name, component: "monitoring", partOf: name },
    );
    const selector = {
      matchLabels: { [LABELS.component]: "agent-server", [LABELS.partOf]: name },
    };
    const endpoint = {
      port: AGENT_SERVER_PORT_NAMES.http,
      path: HTTP_PATHS.metrics,
      interval: "30s",
      scrapeTimeout: "10s",
    };
    if (props.scrapeKind === "ServiceMonitor") {
      new ServiceMonitor(this, "service-monitor", {
        metadata: { name: `${name}-agent-servers`, namespace: ns, labels },
        spec: { selector, endpoints: [endpoint], podTargetLabels: TARGET_LABELS },
      });
    } else {
      new PodMonitor(this, "pod-monitor", {
        metadata: { name: `${name}-agent-servers`, namespace: ns, labels },
        spec: { selector, podMetricsEndpoints: [endpoint], podTargetLabels: TARGET_LABELS },
      });
    }

    this.rules = alertRules(props);
    new PrometheusRule(this, "rules", {
      metadata: { name: `${name}-alerts`, namespace: ns, labels },
      spec: { groups: [{ name: `${name}.zeroplane`, rules: this.rules }] },
    });

    if (props.dashboard) {
      new k8s.KubeConfigMap(this, "dashboard", {
        metadata: {
          name: `${name}-dashboard`,
          namespace: ns,
          labels: sortedRecord({ ...labels, grafana_dashboard: "1" }),
        },
        data: { "zeroplane.json": dashboardJson(props) },
      });
    }
  }
}

function platformSelector(props: MonitoringProps, extra = ""): string {
  const parts = [
    `namespace="${props.namespace}"`,
    `${promLabel(LABELS.component)}="agent-server"`,
    `${promLabel(LABELS.partOf)}="${props.platformName}"`,
  ];
  return `{${parts.join(", ")}${extra ? `, ${extra}` : ""}}`;
}

function groupSelector(props: MonitoringProps, group: MonitoredGroup, extra = ""): string {
  return platformSelector(props, `${promLabel(LABELS.instance)}="${group.name}"${extra ? `, ${extra}` : ""}`);
}

/** Pod names of one group, exactly (so group "a" never matches group "a-b"). */
function podRegex(group: MonitoredGroup): string {
  return group.workloadKind === "StatefulSet" ? `${group.name}-[0-9]+` : `${group.name}-[a-z0-9]+-[a-z0-9]+`;
}

const BY = `by (${promLabel(LABELS.instance)})`;

/** The alert rules. Exported for tests and docs. */
export function alertRules(props: MonitoringProps): AlertRule[] {
  const all = platformSelector(props);
  const rules: AlertRule[] = [
    {
      alert: "ZeroplaneServerUnhealthy",
      expr: `up${all} == 0`,
      for: "5m",
      labels: { severity: "critical" },
      annotations: {
        summary: "An agent server has been down or failing scrapes for more than 5 minutes",
        description:
          "{{ $labels.pod }} in {{ $labels.namespace }} is not serving /metrics; check its /healthz and events.",
      },
    },
    {
      alert: "ZeroplaneSpawnFailureRateHigh",
      expr: `sum ${BY} (rate(${METRICS.spawnFailures}${all}[5m])) / sum ${BY} (rate(${METRICS.spawns}${all}[5m])) > 0.1`,
      for: "10m",
      labels: { severity: "warning" },
      annotations: {
        summary: "More than 10% of agent spawns fail",
        description:
          "{{ $labels.app_kubernetes_io_instance }}: {{ $value | humanizePercentage }} of spawns failed over 5 minutes.",
      },
    },
    {
      alert: "ZeroplaneRequestTimeoutRateHigh",
      expr: `sum ${BY} (rate(${METRICS.requests}${platformSelector(props, `${METRIC_LABELS.result}="${ERROR_CODES.TIMEOUT}"`)}[5m])) / sum ${BY} (rate(${METRICS.requests}${all}[5m])) > 0.05`,
      for: "10m",
      labels: { severity: "warning" },
      annotations: {
        summary: "More than 5% of requests time out",
        description:
          "{{ $labels.app_kubernetes_io_instance }}: {{ $value | humanizePercentage }} of requests ended in TIMEOUT.",
      },
    },
    {
      alert: "ZeroplaneAuthRejectionSpike",
      expr: `(sum ${BY} (rate(${METRICS.authRejections}${all}[5m])) > 0.2) and (sum ${BY} (rate(${METRICS.authRejections}${all}[5m])) > 5 * sum ${BY} (rate(${METRICS.authRejections}${all}[1h] offset 5m)))`,
      for: "5m",
      labels: { severity: "warning" },
      annotations: {
        summary: "A spike in clients refused by the CURVE allowlist",
        description:
          "{{ $labels.app_kubernetes_io_instance }}: auth rejections at {{ $value }}/s, over 5x the previous hour. A client lost its key, or someone is probing.",
      },
    },
  ];
  for (const group of props.groups) {
    rules.push({
      alert: "ZeroplaneActiveAgentsNearMax",
      expr: `sum by (pod) (${METRICS.agents}${groupSelector(props, group, `${METRIC_LABELS.status}=~"${ACTIVE_STATUSES}"`)}) > ${0.9 * group.maxAgents}`,
      for: "10m",
      labels: { severity: "warning", group: group.name },
      annotations: {
        summary: `Active agents above 90% of maxAgents (${group.maxAgents}) in ${group.name}`,
        description:
          "{{ $labels.pod }} runs {{ $value }} agents; new spawns will soon be refused. Scale out or raise maxAgents.",
      },
    });
    const limitBytes = parseQuantity(
      group.memoryLimit,
      `agentServers[${group.name}].resources.limits.memory`,
    );
    rules.push({
      alert: "ZeroplaneMemoryNearLimit",
      expr: `max by (pod) (container_memory_working_set_bytes{namespace="${props.namespace}", container="${AGENT_SERVER_CONTAINER}", pod=~"${podRegex(group)}"}) > ${Math.floor(0.9 * limitBytes)}`,
      for: "10m",
      labels: { severity: "warning", group: group.name },
      annotations: {
        summary: `Agent server memory above 90% of its ${group.memoryLimit} limit in ${group.name}`,
        description:
          "{{ $labels.pod }} uses {{ $value | humanize1024 }}B; it will be OOM-killed at the limit.",
      },
    });
  }
  for (const group of props.groups.filter((g) => g.natsEvents === true)) {
    rules.push(
      {
        alert: "ZeroplaneLifecycleEventsDropped",
        expr: `sum by (pod) (increase(${METRICS.eventsDropped}${groupSelector(props, group)}[5m])) > 0`,
        // Any drop is a lost event: fire at once.
        for: "0m",
        labels: { severity: "critical", group: group.name },
        annotations: {
          summary: `Lifecycle events were dropped from a full spool in ${group.name}`,
          description:
            "{{ $labels.pod }} dropped {{ $value }} lifecycle events in 5 minutes: NATS has been unreachable long enough to fill the spool. Restore NATS, or raise nats.spoolMaxBytes.",
        },
      },
      {
        alert: "ZeroplaneEventSpoolUnwritable",
        expr: `max by (pod) (${METRICS.spoolUnavailable}${groupSelector(props, group)}) == 1`,
        for: "1m",
        labels: { severity: "critical", group: group.name },
        annotations: {
          summary: `An agent server in ${group.name} cannot write its lifecycle event spool`,
          description:
            "{{ $labels.pod }}'s spool disk is full or failing (ENOSPC, EIO): spawns are refused with UNAVAILABLE. Free space on the spool volume or give nats.spoolDir a larger one; spooled events are published in order once it is writable.",
        },
      },
      {
        alert: "ZeroplaneSpawnsRefusedSpoolFull",
        expr: `sum by (pod) (rate(${METRICS.spawnsRefused}${groupSelector(props, group)}[5m])) > 0`,
        // Every refusal is a client turned away: fire at once.
        for: "0m",
        labels: { severity: "critical", group: group.name },
        annotations: {
          summary: `Spawns are refused because the lifecycle event spool is full in ${group.name}`,
          description:
            "{{ $labels.pod }} refuses spawns with UNAVAILABLE ({{ $value }}/s): its spool passed 90% of nats.spoolMaxBytes while NATS was unreachable or JetStream refused writes. Restore NATS or JetStream's storage, or raise nats.spoolMaxBytes.",
        },
      },
      {
        alert: "ZeroplaneNatsDisconnected",
        expr: `max by (pod) (${METRICS.natsConnected}${groupSelector(props, group)}) == 0`,
        for: "5m",
        labels: { severity: "warning", group: group.name },
        annotations: {
          summary: `An agent server in ${group.name} has been disconnected from NATS for 5 minutes`,
          description:
            "{{ $labels.pod }} cannot reach NATS; lifecycle events are spooling on disk and will be dropped when the spool is full. Check the NATS pods, credentials and NetworkPolicy.",
        },
      },
      {
        alert: "ZeroplaneRegistryUnavailable",
        expr: `max by (pod) (${METRICS.registryReady}${groupSelector(props, group)}) == 0`,
        for: "5m",
        labels: { severity: "warning", group: group.name },
        annotations: {
          summary: `An agent server in ${group.name} has been out of the cluster registry for 5 minutes`,
          description:
            "{{ $labels.pod }} does not heartbeat into the registry's KV buckets: other servers read its agents as lost and its spawns with an idempotencyKey are refused with UNAVAILABLE. Check NATS, JetStream storage for the KV_<prefix>_* streams and the credentials.",
        },
      },
    );
  }
  if (props.natsStatefulSet) {
    const sts = `namespace="${props.namespace}", statefulset="${props.natsStatefulSet}"`;
    rules.push({
      alert: "ZeroplaneNatsJetStreamUnhealthy",
      expr: `(kube_statefulset_status_replicas_ready{${sts}} < kube_statefulset_replicas{${sts}}) or (up{namespace="${props.namespace}", pod=~"${props.natsStatefulSet}-[0-9]+"} == 0)`,
      for: "5m",
      labels: { severity: "critical" },
      annotations: {
        summary: "NATS JetStream servers are not ready",
        description: `Some ${props.natsStatefulSet} servers fail /healthz?js-server-only (or their exporter is down): lifecycle events are spooling on the agent servers.`,
      },
    });
  }
  return rules;
}

/** The Grafana dashboard, as deterministic JSON. */
export function dashboardJson(props: MonitoringProps): string {
  const sel = platformSelector(props);
  const inst = promLabel(LABELS.instance);
  // One query per series: PromQL `or` drops the right side wherever the labels match the left.
  const panel = (
    id: number,
    title: string,
    expr: string | readonly (readonly [expr: string, legend: string])[],
    legend: string,
    unit: string,
    x: number,
    y: number,
  ) => ({
    id,
    type: "timeseries",
    title,
    datasource: { type: "prometheus", uid: "${datasource}" },
    gridPos: { h: 8, w: 12, x, y },
    fieldConfig: { defaults: { unit }, overrides: [] },
    targets: (typeof expr === "string" ? [[expr, legend] as const] : expr).map(([query, format], index) => ({
      refId: String.fromCharCode(65 + index),
      expr: query,
      legendFormat: format,
    })),
  });
  const dashboard = {
    title: `Zeroplane (${props.platformName} in ${props.namespace})`,
    uid: `zeroplane-${props.namespace}-${props.platformName}`.slice(0, 40),
    schemaVersion: 39,
    version: 1,
    editable: false,
    time: { from: "now-6h", to: "now" },
    refresh: "30s",
    tags: ["zeroplane"],
    templating: {
      list: [{ name: "datasource", type: "datasource", query: "prometheus", label: "Data source" }],
    },
    panels: [
      panel(
        1,
        "Requests per second by result",
        `sum by (${METRIC_LABELS.result}) (rate(${METRICS.requests}${sel}[5m]))`,
        `{{${METRIC_LABELS.result}}}`,
        "reqps",
        0,
        0,
      ),
      panel(
        2,
        "Request latency p99",
        `histogram_quantile(0.99, sum by (le, ${METRIC_LABELS.method}) (rate(${METRICS.requestDuration}_bucket${sel}[5m])))`,
        `{{${METRIC_LABELS.method}}}`,
        "s",
        12,
        0,
      ),
      panel(
        3,
        "Agents by status",
        `sum by (${METRIC_LABELS.status}) (${METRICS.agents}${sel})`,
        `{{${METRIC_LABELS.status}}}`,
        "short",
        0,
        8,
      ),
      panel(
        4,
        "Spawns and spawn failures",
        [
          [`sum by (${inst}) (rate(${METRICS.spawns}${sel}[5m]))`, `{{${inst}}} spawns`],
          [`sum by (${inst}) (rate(${METRICS.spawnFailures}${sel}[5m]))`, `{{${inst}}} failures`],
        ],
        `{{${inst}}}`,
        "ops",
        12,
        8,
      ),
      panel(
        5,
        "Auth rejections",
        `sum by (${METRIC_LABELS.reason}) (rate(${METRICS.authRejections}${sel}[5m]))`,
        `{{${METRIC_LABELS.reason}}}`,
        "ops",
        0,
        16,
      ),
      panel(
        6,
        "Memory working set",
        `sum by (pod) (container_memory_working_set_bytes{namespace="${props.namespace}", container="${AGENT_SERVER_CONTAINER}"})`,
        "{{pod}}",
        "bytes",
        12,
        16,
      ),
    ],
  };
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
