/**
 * NatsCluster: a NATS cluster with JetStream, on par with the official Helm chart and hardened past it:
 * credentials only from Secrets, Pod Security "restricted", and its own NetworkPolicy.
 */
import { Construct } from "constructs";
import * as k8s from "cdk8s-plus-27/lib/imports/k8s.js";
import {
  LABELS,
  check,
  checkDnsLabel,
  operatorCreatedMetadata,
  parseQuantity,
  sortedRecord,
  recommendedLabels,
} from "./common.js";
import { PodMonitor } from "./crds.js";
import { NATS_PORTS, renderNatsConfig } from "./nats-config.js";
import { DNS_PEERS, peerFrom, type PeerLabels } from "./network-policies.js";
import { NATS_EXPORTER_PORT, natsPodSpec } from "./nats-pod.js";
import type { NatsClusterSpec } from "./platform.js";

type JetStreamSpec = Exclude<NatsClusterSpec["jetstream"], false | undefined>;

export { DEFAULT_NATS_EXPORTER_IMAGE, DEFAULT_NATS_IMAGE, NATS_EXPORTER_PORT } from "./nats-pod.js";

export interface NatsClusterProps extends NatsClusterSpec {
  /** Namespace of every object. */
  readonly namespace: string;
  /** Name of the StatefulSet and client Service, e.g. `zeroplane-nats`. */
  readonly resourceName: string;
  /** NATS cluster name (and gateway name). */
  readonly clusterName: string;
  /** `app.kubernetes.io/part-of`. */
  readonly platformName: string;
  /** Pods allowed to connect to the client port (the agent servers). */
  readonly clientPeers: readonly PeerLabels[];
  /** Where Prometheus runs, to allow scraping the exporter. @default no scrape allowed */
  readonly prometheus?: PeerLabels;
  /** Create a PodMonitor with these labels (monitoring on and exporter on). @default none */
  readonly podMonitorLabels?: Readonly<Record<string, string>>;
  /** Labels on every object. @default none */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * Share of the PVC JetStream may fill (max_file_store). The rest is headroom for the filesystem's own
 * overhead, JetStream's metadata and raft logs, and compaction: JetStream must hit its limit before
 * the filesystem is full, or writes fail with ENOSPC and events back up into the servers' spools.
 */
export const JETSTREAM_STORE_SHARE = 0.8;
/**
 * Share of max_file_store the lifecycle stream may hold (its max_bytes, oldest events discarded
 * beyond it), leaving room for the cluster registry's KV buckets (REGISTRY_BYTES_SHARE of the stream
 * limit on top: 75% x 1.1875 = 89% of the store), other streams and a replica catching up.
 */
export const LIFECYCLE_STREAM_SHARE = 0.75;

/** JetStream's file store limit and the lifecycle stream's byte limit for a volume of `volumeBytes`. */
export function jetstreamLimits(volumeBytes: number): { maxFileStoreBytes: number; streamMaxBytes: number } {
  const maxFileStoreBytes = Math.floor(volumeBytes * JETSTREAM_STORE_SHARE);
  return { maxFileStoreBytes, streamMaxBytes: Math.floor(maxFileStoreBytes * LIFECYCLE_STREAM_SHARE) };
}

export class NatsCluster extends Construct {
  /** `nats://<service>.<namespace>.svc.cluster.local:4222` (or `tls://` with client TLS). */
  readonly clientUrl: string;
  /** Replicas for streams on this cluster: 3 when there are 3 or more servers, else 1. */
  readonly streamReplicas: number;
  readonly selectorLabels: Record<string, string>;
  readonly headlessServiceName: string;
  /** The rendered nats.conf (exactly what the ConfigMap holds). */
  readonly configText: string;
  readonly jetstream: boolean;
  /** JetStream's max_file_store: the volume less its headroom (undefined without JetStream). */
  readonly maxFileStoreBytes: number | undefined;
  /** The byte limit for the agent servers' lifecycle stream (nats.maxBytes), below max_file_store. */
  readonly streamMaxBytes: number | undefined;

  constructor(scope: Construct, id: string, props: NatsClusterProps) {
    super(scope, id);
    validateNats(props);
    const name = props.resourceName;
    const ns = props.namespace;
    const replicas = props.replicas;
    const jetstream = props.jetstream === false ? undefined : (props.jetstream ?? { storageSize: "10Gi" });
    this.jetstream = jetstream !== undefined;
    const resources = props.resources ?? { cpu: "500m", memory: "1Gi" };
    const memoryLimitBytes = parseQuantity(resources.memory, "nats.resources.memory");
    const headless = `${name}-headless`;
    this.headlessServiceName = headless;
    this.streamReplicas = replicas >= 3 ? 3 : 1;
    const limits =
      jetstream && jetstreamLimits(parseQuantity(jetstream.storageSize, "nats.jetstream.storageSize"));
    this.maxFileStoreBytes = limits?.maxFileStoreBytes;
    this.streamMaxBytes = limits?.streamMaxBytes;
    this.clientUrl = `${props.tls?.client ? "tls" : "nats"}://${name}.${ns}.svc.cluster.local:${NATS_PORTS.client}`;
    this.selectorLabels = { [LABELS.name]: "nats", [LABELS.instance]: name };
    const labels = recommendedLabels(props.labels, {
      name: "nats",
      instance: name,
      component: "nats",
      partOf: props.platformName,
    });
    const metadata = { name, namespace: ns, labels };

    this.configText = this.renderConfig(props, headless, jetstream);
    new k8s.KubeServiceAccount(this, "service-account", { metadata, automountServiceAccountToken: false });
    new k8s.KubeConfigMap(this, "config", {
      metadata: { ...metadata, name: `${name}-config` },
      data: { "nats.conf": this.configText },
    });
    this.services(props, metadata, headless);

    const exporter = props.exporter ?? true;
    const pod = natsPodSpec({
      spec: props,
      name,
      selectorLabels: this.selectorLabels,
      resources,
      memoryLimitBytes,
      jetstream: this.jetstream,
      exporter,
    });
    this.statefulSet(props, metadata, jetstream, pod);
    new k8s.KubePodDisruptionBudget(this, "pdb", {
      metadata,
      spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: this.selectorLabels } },
    });

    this.networkPolicy(props, metadata, exporter);

    if (exporter && props.podMonitorLabels) {
      new PodMonitor(this, "pod-monitor", {
        metadata: { name, namespace: ns, labels: sortedRecord({ ...labels, ...props.podMonitorLabels }) },
        spec: {
          selector: { matchLabels: this.selectorLabels },
          podMetricsEndpoints: [{ port: "prom-metrics", path: "/metrics", interval: "30s" }],
        },
      });
    }
  }

  /** nats.conf: routes to every peer, JetStream limits, auth, TLS, remotes and gateways. */
  private renderConfig(
    props: NatsClusterProps,
    headless: string,
    jetstream: JetStreamSpec | undefined,
  ): string {
    const { resourceName: name, namespace: ns, replicas } = props;
    const routes =
      replicas > 1
        ? Array.from(
            { length: replicas },
            (_, i) => `nats://${name}-${i}.${headless}.${ns}.svc.cluster.local:${NATS_PORTS.cluster}`,
          )
        : [];
    return renderNatsConfig({
      clusterName: props.clusterName,
      routes,
      jetstream: jetstream && {
        maxFileStoreBytes: this.maxFileStoreBytes!,
        maxMemoryStoreBytes: parseQuantity(
          jetstream.memoryStoreSize ?? "256Mi",
          "nats.jetstream.memoryStoreSize",
        ),
      },
      auth: props.auth !== undefined,
      clientTls: props.tls?.client && { verify: props.tls.client.verify ?? false },
      clusterTls: props.tls?.cluster && { verify: props.tls.cluster.verify ?? true },
      leafnodeRemotes: props.leafnodeRemotes?.map((remote) => ({
        url: remote.url,
        credentials: remote.credentialsSecret !== undefined,
        account: remote.account,
      })),
      gateways: props.gateways,
    });
  }

  /** The client Service, and the headless one that gives each server its route address. */
  private services(props: NatsClusterProps, metadata: k8s.ObjectMeta, headless: string): void {
    const clientPorts: k8s.ServicePort[] = [servicePort("nats", NATS_PORTS.client)];
    new k8s.KubeService(this, "client-service", {
      metadata,
      spec: { type: "ClusterIP", selector: this.selectorLabels, ports: clientPorts },
    });
    const headlessPorts = [
      servicePort("nats", NATS_PORTS.client),
      servicePort("cluster", NATS_PORTS.cluster),
      servicePort("monitor", NATS_PORTS.monitor),
    ];
    if (props.gateways?.length) headlessPorts.push(servicePort("gateway", NATS_PORTS.gateway));
    new k8s.KubeService(this, "headless-service", {
      metadata: { ...metadata, name: headless },
      spec: {
        clusterIp: "None",
        // Servers must find each other's routes before they are ready.
        publishNotReadyAddresses: true,
        selector: this.selectorLabels,
        ports: headlessPorts,
      },
    });
  }

  /** The StatefulSet: one PVC per server with JetStream, the Secrets the operator creates annotated. */
  private statefulSet(
    props: NatsClusterProps,
    metadata: k8s.ObjectMeta & { labels: Record<string, string> },
    jetstream: JetStreamSpec | undefined,
    pod: k8s.PodSpec,
  ): void {
    new k8s.KubeStatefulSet(this, "statefulset", {
      metadata,
      spec: {
        replicas: props.replicas,
        serviceName: this.headlessServiceName,
        podManagementPolicy: "Parallel",
        selector: { matchLabels: this.selectorLabels },
        updateStrategy: { type: "RollingUpdate" },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
        volumeClaimTemplates: jetstream
          ? [
              {
                metadata: { name: "jetstream", labels: this.selectorLabels },
                spec: {
                  accessModes: ["ReadWriteOnce"],
                  ...(jetstream.storageClassName ? { storageClassName: jetstream.storageClassName } : {}),
                  resources: { requests: { storage: k8s.Quantity.fromString(jetstream.storageSize) } },
                },
              },
            ]
          : undefined,
        template: {
          metadata: {
            labels: metadata.labels,
            ...operatorCreatedMetadata([
              props.auth && `Secret/${props.auth.secretName}`,
              props.tls?.client && `Secret/${props.tls.client.secretName}`,
              props.tls?.cluster && `Secret/${props.tls.cluster.secretName}`,
              ...(props.leafnodeRemotes ?? []).map(
                (remote) => remote.credentialsSecret && `Secret/${remote.credentialsSecret}`,
              ),
            ]),
          },
          spec: pod,
        },
      },
    });
  }

  private networkPolicy(props: NatsClusterProps, metadata: k8s.ObjectMeta, exporter: boolean): void {
    const self = { podSelector: { matchLabels: this.selectorLabels } };
    const tcp = (port: number): k8s.NetworkPolicyPort => ({
      protocol: "TCP",
      port: k8s.IntOrString.fromNumber(port),
    });
    const remotes = (props.remoteCidrs ?? []).map((cidr) => ({ ipBlock: { cidr } }));
    const ingress: k8s.NetworkPolicyIngressRule[] = [
      { from: props.clientPeers.map(peerFrom), ports: [tcp(NATS_PORTS.client)] },
      { from: [self], ports: [tcp(NATS_PORTS.cluster)] },
    ];
    const egress: k8s.NetworkPolicyEgressRule[] = [
      { to: [self], ports: [tcp(NATS_PORTS.cluster)] },
      DNS_PEERS,
    ];
    if (props.gateways?.length) {
      ingress.push({ from: [self, ...remotes], ports: [tcp(NATS_PORTS.gateway)] });
      egress.push({ to: [self, ...remotes], ports: [tcp(NATS_PORTS.gateway)] });
    }
    if (props.leafnodeRemotes?.length) {
      egress.push({ to: remotes, ports: [tcp(NATS_PORTS.leafnode)] });
    }
    if (exporter && props.prometheus) {
      ingress.push({ from: [peerFrom(props.prometheus)], ports: [tcp(NATS_EXPORTER_PORT)] });
    }
    new k8s.KubeNetworkPolicy(this, "network-policy", {
      metadata,
      spec: { podSelector: self.podSelector, policyTypes: ["Ingress", "Egress"], ingress, egress },
    });
  }
}

function servicePort(name: string, port: number): k8s.ServicePort {
  return { name, port, targetPort: k8s.IntOrString.fromString(name), protocol: "TCP" };
}

/**
 * The NATS checks the environment spec (constructs/spec.ts) cannot make: sizes as quantities, the
 * gateway's own name, URL formats, remote CIDRs when remotes are set. The platform validated the
 * rest (cluster size, Secret names, CIDRs) at the top.
 */
export function validateNats(props: NatsClusterProps): void {
  const js = props.jetstream !== false;
  if (js) {
    const jetstream = props.jetstream || { storageSize: "10Gi" };
    const bytes = parseQuantity(jetstream.storageSize, "nats.jetstream.storageSize");
    check(
      bytes >= 1024 ** 3,
      "nats.jetstream.storageSize",
      "is below 1Gi; JetStream would refuse writes almost at once",
      jetstream.storageSize,
      'use at least "1Gi" (e.g. "10Gi")',
    );
    if (jetstream.memoryStoreSize !== undefined) {
      parseQuantity(jetstream.memoryStoreSize, "nats.jetstream.memoryStoreSize");
    }
    if (jetstream.storageClassName !== undefined) {
      checkDnsLabel(jetstream.storageClassName, "nats.jetstream.storageClassName", 253);
    }
  }
  if (props.resources) {
    parseQuantity(props.resources.cpu, "nats.resources.cpu");
    const memory = parseQuantity(props.resources.memory, "nats.resources.memory");
    check(
      memory >= 128 * 1024 ** 2,
      "nats.resources.memory",
      "is below 128Mi, too little for a NATS server with JetStream",
      props.resources.memory,
      'use at least "256Mi" ("1Gi" or more in production)',
    );
  }
  (props.leafnodeRemotes ?? []).forEach((remote, index) =>
    check(
      /^(nats-leaf|nats|tls|ws|wss):\/\/[^\s"]+$/.test(remote.url),
      `nats.leafnodeRemotes[${index}].url`,
      "is not a leaf node URL",
      remote.url,
      "write it like nats-leaf://hub.example.internal:7422 or tls://hub.example.internal:7422",
    ),
  );
  (props.gateways ?? []).forEach((gateway, index) => {
    check(
      gateway.name !== props.clusterName,
      `nats.gateways[${index}].name`,
      "is this cluster's own name",
      gateway.name,
      "list only the other clusters",
    );
    check(
      gateway.urls.length > 0 && gateway.urls.every((url) => /^(nats|tls):\/\/[^\s"]+$/.test(url)),
      `nats.gateways[${index}].urls`,
      "must be one or more nats:// or tls:// URLs",
      gateway.urls,
      "write them like nats://nats-gw.eu-west-1.example.internal:7222",
    );
  });
  const remotesUsed = (props.leafnodeRemotes?.length ?? 0) + (props.gateways?.length ?? 0) > 0;
  check(
    !remotesUsed || (props.remoteCidrs?.length ?? 0) > 0,
    "nats.remoteCidrs",
    "is empty while leaf node remotes or gateways are set; the NetworkPolicy would block them",
    props.remoteCidrs,
    "list the CIDRs of the remote NATS servers, e.g. ['10.30.0.0/16']",
  );
}
