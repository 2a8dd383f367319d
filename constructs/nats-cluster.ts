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
  imageRef,
  parseQuantity,
  pullPolicy,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  sortedRecord,
  spreadConstraints,
} from "./common.js";
import { PodMonitor } from "./crds.js";
import {
  LAME_DUCK,
  NATS_AUTH_SECRET_KEYS,
  NATS_ENV,
  NATS_PATHS,
  NATS_PORTS,
  renderNatsConfig,
} from "./nats-config.js";
import { DNS_PEERS, peerFrom, type PeerLabels } from "./network-policies.js";
import type { NatsClusterSpec } from "./platform.js";

/** Default NATS server image (the official image; pin by digest in production). */
export const DEFAULT_NATS_IMAGE = { repository: "nats", tag: "2.10.22-alpine" } as const;
/** Default Prometheus NATS exporter sidecar image. */
export const DEFAULT_NATS_EXPORTER_IMAGE = {
  repository: "natsio/prometheus-nats-exporter",
  tag: "0.15.0",
} as const;
/** The exporter's metrics port. */
export const NATS_EXPORTER_PORT = 7777;

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
 * beyond it), leaving room for other streams and for a replica catching up.
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
    const labels = sortedRecord({
      ...props.labels,
      ...this.selectorLabels,
      [LABELS.component]: "nats",
      [LABELS.partOf]: props.platformName,
      [LABELS.managedBy]: "cdk8s",
    });
    const metadata = { name, namespace: ns, labels };

    const routes =
      replicas > 1
        ? Array.from(
            { length: replicas },
            (_, i) => `nats://${name}-${i}.${headless}.${ns}.svc.cluster.local:${NATS_PORTS.cluster}`,
          )
        : [];
    this.configText = renderNatsConfig({
      clusterName: props.clusterName,
      routes,
      jetstream: jetstream && {
        maxFileStoreBytes: limits!.maxFileStoreBytes,
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

    new k8s.KubeServiceAccount(this, "service-account", { metadata, automountServiceAccountToken: false });
    new k8s.KubeConfigMap(this, "config", {
      metadata: { ...metadata, name: `${name}-config` },
      data: { "nats.conf": this.configText },
    });

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

    const exporter = props.exporter ?? true;
    new k8s.KubeStatefulSet(this, "statefulset", {
      metadata,
      spec: {
        replicas,
        serviceName: headless,
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
          metadata: { labels },
          spec: this.podSpec(props, name, resources, memoryLimitBytes, exporter),
        },
      },
    });

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

  private podSpec(
    props: NatsClusterProps,
    name: string,
    resources: { cpu: string; memory: string },
    memoryLimitBytes: number,
    exporter: boolean,
  ): k8s.PodSpec {
    const quantities = {
      cpu: k8s.Quantity.fromString(resources.cpu),
      memory: k8s.Quantity.fromString(resources.memory),
      "ephemeral-storage": k8s.Quantity.fromString("256Mi"),
    };
    const js = this.jetstream;
    const natsImage = imageRef(props.image ?? DEFAULT_NATS_IMAGE, "nats.image");
    const env: k8s.EnvVar[] = [
      { name: NATS_ENV.podName, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      // Go's soft memory limit at 80% of the container limit: the GC works harder before the OOM killer acts.
      { name: "GOMEMLIMIT", value: `${Math.floor((memoryLimitBytes * 0.8) / 1024 ** 2)}MiB` },
    ];
    if (props.auth) {
      env.push(
        {
          name: NATS_ENV.user,
          valueFrom: { secretKeyRef: { name: props.auth.secretName, key: NATS_AUTH_SECRET_KEYS.user } },
        },
        {
          name: NATS_ENV.password,
          valueFrom: { secretKeyRef: { name: props.auth.secretName, key: NATS_AUTH_SECRET_KEYS.password } },
        },
      );
    }
    const volumes: k8s.Volume[] = [
      { name: "config", configMap: { name: `${name}-config`, defaultMode: 0o444 } },
      { name: "pid", emptyDir: { sizeLimit: k8s.Quantity.fromString("16Mi") } },
    ];
    const mounts: k8s.VolumeMount[] = [
      { name: "config", mountPath: NATS_PATHS.configDir, readOnly: true },
      { name: "pid", mountPath: NATS_PATHS.pidDir },
    ];
    if (js) mounts.push({ name: "jetstream", mountPath: NATS_PATHS.dataDir });
    const tlsMounts: [string, string | undefined, string][] = [
      ["tls-client", props.tls?.client?.secretName, NATS_PATHS.clientTlsDir],
      ["tls-cluster", props.tls?.cluster?.secretName, NATS_PATHS.clusterTlsDir],
    ];
    for (const [volume, secretName, dir] of tlsMounts) {
      if (!secretName) continue;
      volumes.push({ name: volume, secret: { secretName, defaultMode: 0o440 } });
      mounts.push({ name: volume, mountPath: dir, readOnly: true });
    }
    props.leafnodeRemotes?.forEach((remote, index) => {
      if (!remote.credentialsSecret) return;
      volumes.push({
        name: `leafnode-${index}`,
        secret: {
          secretName: remote.credentialsSecret,
          defaultMode: 0o440,
          items: [{ key: "creds", path: "creds" }],
        },
      });
      mounts.push({
        name: `leafnode-${index}`,
        mountPath: `${NATS_PATHS.leafnodeCredentialsDir}/remote-${index}`,
        readOnly: true,
      });
    });

    const ports: k8s.ContainerPort[] = [
      { name: "nats", containerPort: NATS_PORTS.client, protocol: "TCP" },
      { name: "cluster", containerPort: NATS_PORTS.cluster, protocol: "TCP" },
      { name: "monitor", containerPort: NATS_PORTS.monitor, protocol: "TCP" },
    ];
    if (props.gateways?.length)
      ports.push({ name: "gateway", containerPort: NATS_PORTS.gateway, protocol: "TCP" });

    const containers: k8s.Container[] = [
      {
        name: "nats",
        image: natsImage,
        imagePullPolicy: pullPolicy(natsImage),
        args: ["--config", NATS_PATHS.configFile],
        env,
        ports,
        resources: { requests: quantities, limits: quantities },
        // Startup waits for JetStream to catch up; readiness only needs the server; liveness only needs JetStream on.
        startupProbe: healthProbe("/healthz", {
          periodSeconds: 10,
          failureThreshold: 90,
          initialDelaySeconds: 10,
        }),
        readinessProbe: healthProbe(js ? "/healthz?js-server-only=true" : "/healthz", {
          periodSeconds: 10,
          failureThreshold: 3,
        }),
        livenessProbe: healthProbe(js ? "/healthz?js-enabled-only=true" : "/healthz", {
          periodSeconds: 30,
          failureThreshold: 3,
        }),
        lifecycle: {
          // Lame duck: stop accepting, move clients away, then exit, before SIGTERM arrives.
          preStop: { exec: { command: ["nats-server", `--signal`, `ldm=${NATS_PATHS.pidFile}`] } },
        },
        securityContext: restrictedContainerSecurityContext(),
        volumeMounts: mounts,
      },
    ];
    if (exporter) {
      const exporterImage = imageRef(
        props.exporterImage ?? DEFAULT_NATS_EXPORTER_IMAGE,
        "nats.exporterImage",
      );
      const small = {
        cpu: k8s.Quantity.fromString("50m"),
        memory: k8s.Quantity.fromString("64Mi"),
        "ephemeral-storage": k8s.Quantity.fromString("64Mi"),
      };
      const exporterProbe = (periodSeconds: number): k8s.Probe => ({
        tcpSocket: { port: k8s.IntOrString.fromString("prom-metrics") },
        initialDelaySeconds: 10,
        periodSeconds,
        timeoutSeconds: 3,
        failureThreshold: 3,
      });
      containers.push({
        name: "exporter",
        image: exporterImage,
        imagePullPolicy: pullPolicy(exporterImage),
        args: [
          `-port=${NATS_EXPORTER_PORT}`,
          "-connz",
          "-routez",
          "-subz",
          "-varz",
          "-healthz",
          "-prefix=nats",
          "-use_internal_server_id",
          ...(js ? ["-jsz=all"] : []),
          `http://localhost:${NATS_PORTS.monitor}/`,
        ],
        ports: [{ name: "prom-metrics", containerPort: NATS_EXPORTER_PORT, protocol: "TCP" }],
        readinessProbe: exporterProbe(10),
        livenessProbe: exporterProbe(30),
        resources: { requests: small, limits: small },
        securityContext: restrictedContainerSecurityContext(),
      });
    }
    return {
      serviceAccountName: name,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      // Lame duck duration + grace + margin for the final flush.
      terminationGracePeriodSeconds: LAME_DUCK.durationSeconds + LAME_DUCK.gracePeriodSeconds + 20,
      securityContext: restrictedPodSecurityContext(),
      topologySpreadConstraints: spreadConstraints(this.selectorLabels),
      containers,
      volumes,
    };
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

function healthProbe(
  path: string,
  timing: { periodSeconds: number; failureThreshold: number; initialDelaySeconds?: number },
): k8s.Probe {
  return {
    httpGet: { path, port: k8s.IntOrString.fromString("monitor"), scheme: "HTTP" },
    timeoutSeconds: 5,
    successThreshold: 1,
    ...timing,
  };
}

/** Checks the NATS props early: sizes, quorum rules and what the remotes need. */
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
