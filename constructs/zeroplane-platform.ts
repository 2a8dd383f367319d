/**
 * ZeroplanePlatform: one environment from one typed spec (constructs/platform.ts): namespace, CURVE keys,
 * allowlist, NATS, agent-server groups, network policies and monitoring.
 */
import { App, Chart } from "cdk8s";
import { Construct } from "constructs";
import * as k8s from "cdk8s-plus-27/lib/imports/k8s.js";
import { ALLOWLIST_KEY } from "../runtime/config/names.js";
import { AgentServer, type AllowlistSource, type ClientService } from "./agent-server.js";
import { LABELS, check, imageRef, sortedRecord, recommendedLabels } from "./common.js";
import { CurveKeys } from "./curve-keys.js";
import { Monitoring } from "./monitoring.js";
import { NatsCluster } from "./nats-cluster.js";
import {
  AgentServerNetworkPolicy,
  DefaultDenyPolicy,
  KeygenNetworkPolicy,
  type PeerLabels,
} from "./network-policies.js";
import type { ZeroplanePlatformProps } from "./platform.js";
import { checkSpec, platformPropsSchema } from "./spec.js";
import { PlatformTreeChecks } from "./tree-checks.js";

const DEFAULT_PROMETHEUS: PeerLabels = {
  namespaceLabels: { "kubernetes.io/metadata.name": "monitoring" },
  podLabels: { [LABELS.name]: "prometheus" },
};

export class ZeroplanePlatform extends Construct {
  readonly props: ZeroplanePlatformProps;
  readonly agentServers: readonly AgentServer[];
  /** Every Service clients connect through, of every group, sorted by name. */
  readonly clientServices: readonly ClientService[];
  readonly nats?: NatsCluster;
  readonly curveKeys: CurveKeys;
  readonly monitoring?: Monitoring;

  constructor(scope: Construct, id: string, props: ZeroplanePlatformProps) {
    super(scope, id);
    this.props = props;
    // The one validation of the spec; the constructs below check only what spans objects.
    checkSpec(platformPropsSchema, props);
    this.node.addValidation(new PlatformTreeChecks(this));
    const ns = props.namespace;
    const name = props.name ?? "zeroplane";
    const labels = sortedRecord(props.labels);
    const image = imageRef(props.image, "image");
    const monitoringOn = props.monitoring?.enabled === true;
    const prometheus: PeerLabels | undefined = monitoringOn
      ? {
          namespaceLabels: props.monitoring?.prometheusNamespaceLabels ?? DEFAULT_PROMETHEUS.namespaceLabels,
          podLabels: props.monitoring?.prometheusPodLabels ?? DEFAULT_PROMETHEUS.podLabels,
        }
      : undefined;
    const platformLabels = recommendedLabels(labels, { name: "zeroplane", partOf: name });

    if (props.createNamespace ?? true) {
      new k8s.KubeNamespace(this, "namespace", {
        metadata: {
          name: ns,
          labels: sortedRecord({
            ...platformLabels,
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "v1.27",
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
          }),
        },
      });
    }

    new DefaultDenyPolicy(this, "default-deny", {
      namespace: ns,
      name: `${name}-default-deny`,
      labels: platformLabels,
    });

    this.curveKeys = new CurveKeys(this, "curve", {
      namespace: ns,
      platformName: name,
      spec: props.curve,
      image,
      labels,
    });
    if (this.curveKeys.keygenPodLabels) {
      new KeygenNetworkPolicy(this, "keygen-policy", {
        namespace: ns,
        name: `${name}-keygen`,
        labels: platformLabels,
        podLabels: this.curveKeys.keygenPodLabels,
        // validate() requires it whenever the keygen Job exists.
        apiServerCidrs: props.networkPolicy!.apiServerCidrs!,
      });
    }

    const allowlist = this.allowlist(props, name, platformLabels);

    const groupNames = props.agentServers.map((group) => `${name}-${group.name}`);
    if (props.nats) {
      this.nats = new NatsCluster(this, "nats", {
        ...props.nats,
        namespace: ns,
        resourceName: `${name}-nats`,
        clusterName: name,
        platformName: name,
        labels,
        clientPeers: groupNames.map((instance) => ({
          podLabels: { [LABELS.name]: "zeroplane", [LABELS.instance]: instance },
        })),
        prometheus,
        podMonitorLabels: monitoringOn ? sortedRecord(props.monitoring?.selectorLabels) : undefined,
      });
    }

    const clients = props.networkPolicy?.clients ?? [];
    this.agentServers = props.agentServers.map((group, index) => {
      const server = new AgentServer(this, `agent-server-${group.name}`, {
        ...group,
        namespace: ns,
        resourceName: groupNames[index]!,
        platformName: name,
        image,
        curveSecretName: this.curveKeys.secretName,
        allowPlaintext: props.curve.mode === "off",
        allowlist,
        // What the operator creates (docs/stacks.md, "Secrets you create"); the rest this chart makes.
        operatorCreated: [
          ...(props.curve.mode === "existing" ? [`Secret/${props.curve.secretName}`] : []),
          ...(props.allowlist && props.allowlist.source !== "publicKeys"
            ? [`${props.allowlist.source === "secret" ? "Secret" : "ConfigMap"}/${props.allowlist.name}`]
            : []),
        ],
        nats: this.nats && {
          url: this.nats.clientUrl,
          streamReplicas: this.nats.streamReplicas,
          streamMaxBytes: this.nats.streamMaxBytes,
          credentialsSecret: props.nats?.auth?.secretName,
          tlsCaSecret: props.nats?.tls?.client?.secretName,
        },
        labels,
      });
      new AgentServerNetworkPolicy(this, `agent-server-${group.name}-policy`, {
        namespace: ns,
        name: groupNames[index]!,
        labels: platformLabels,
        podLabels: server.selectorLabels,
        clients,
        sourceRanges: group.exposure?.type === "nlb" ? group.exposure.sourceRanges : [],
        healthCheckCidrs: group.exposure?.type === "nlb" ? (group.exposure.healthCheckCidrs ?? []) : [],
        prometheus,
        nats: this.nats?.selectorLabels,
        agentEgressCidrs: props.networkPolicy?.agentEgressCidrs ?? [],
        agentEgressPorts: props.networkPolicy?.agentEgressPorts ?? [443],
      });
      return server;
    });
    this.clientServices = this.agentServers
      .flatMap((server) => server.clientServices)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

    if (monitoringOn) {
      this.monitoring = new Monitoring(this, "monitoring", {
        namespace: ns,
        platformName: name,
        scrapeKind: props.monitoring?.scrapeKind ?? "ServiceMonitor",
        selectorLabels: props.monitoring?.selectorLabels ?? {},
        groups: this.agentServers.map((server, index) => ({
          name: groupNames[index]!,
          workloadKind: server.workloadKind,
          maxAgents: server.maxAgents,
          memoryLimit: server.resources.limits.memory,
          natsEvents: this.nats !== undefined,
        })),
        natsStatefulSet: this.nats ? `${name}-nats` : undefined,
        dashboard: props.monitoring?.dashboard ?? true,
        labels,
      });
    }
  }

  private allowlist(
    props: ZeroplanePlatformProps,
    name: string,
    labels: Record<string, string>,
  ): AllowlistSource | undefined {
    const spec = props.allowlist;
    if (!spec) return undefined;
    switch (spec.source) {
      case "publicKeys": {
        check(
          Array.isArray(spec.publicKeys) && spec.publicKeys.length > 0,
          "allowlist.publicKeys",
          "is empty, so no client could connect",
          spec.publicKeys,
          "list the clients' Z85 public keys (from `zeroplane keygen`)",
        );
        const configMapName = `${name}-allowlist`;
        const sorted = [...new Set(spec.publicKeys)].sort();
        new k8s.KubeConfigMap(this, "allowlist", {
          metadata: { name: configMapName, namespace: props.namespace, labels },
          data: { [ALLOWLIST_KEY]: `${sorted.join("\n")}\n` },
        });
        return { kind: "configMap", name: configMapName };
      }
      case "configMap":
      case "secret":
        return { kind: spec.source, name: spec.name };
    }
  }
}

/** The result of `synthesizePlatform`. */
export interface SynthesizedPlatform {
  readonly app: App;
  readonly chart: Chart;
  readonly platform: ZeroplanePlatform;
  /** Every object, in emission order (validated: `node.addValidation` checks ran). */
  readonly objects: Record<string, unknown>[];
  /** The same objects as one multi-document YAML string (byte-identical run to run). */
  readonly yaml: string;
}

/**
 * Builds one environment in its own App and Chart, runs the construct validations and renders it.
 * Names are stable (no hash suffixes); output is deterministic.
 */
export function synthesizePlatform(
  props: ZeroplanePlatformProps,
  chartId = props.namespace,
): SynthesizedPlatform {
  const app = new App({ outdir: "dist/unused-synth-output" });
  const chart = new Chart(app, chartId, { disableResourceNameHashes: true });
  const platform = new ZeroplanePlatform(chart, "platform", props);
  const yaml = app.synthYaml();
  const objects = chart.toJson() as Record<string, unknown>[];
  return { app, chart, platform, objects, yaml };
}
