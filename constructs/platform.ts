/**
 * The typed spec of one Zeroplane environment: everything `ZeroplanePlatform` builds comes from here.
 *
 * This file holds only types (and no behaviour) so that stacks and policies can code against it.
 * Keep it stable: add optional fields, never rename or remove one.
 */

/** A container image: a repository plus exactly one of `tag` or `digest`. */
export interface ImageSpec {
  /** Repository, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com/zeroplane`. */
  readonly repository: string;
  /** Tag (never `latest`). Give `tag` or `digest`, not both. @default none */
  readonly tag?: string;
  /** Digest, `sha256:<64 hex>`. Preferred over a tag in production. @default none */
  readonly digest?: string;
}

/** CPU and memory for one container, as Kubernetes quantities ("500m", "1Gi"). */
export interface ResourceSpec {
  /** Requests: what the scheduler reserves. */
  readonly requests: { readonly cpu: string; readonly memory: string };
  /** Limits. The memory limit also drives the "memory above 90% of limit" alert. */
  readonly limits: { readonly cpu: string; readonly memory: string };
  /** Ephemeral storage request and limit (the pod's emptyDirs count against it). @default "1Gi" */
  readonly ephemeralStorage?: string;
}

/** Horizontal autoscaling of one agent-server group (autoscaling/v2). */
export interface AutoscalingSpec {
  /** Lower bound. At least 1; 2 or more for availability. */
  readonly minReplicas: number;
  /** Upper bound. Greater than `minReplicas`. */
  readonly maxReplicas: number;
  /** Target average CPU utilisation, percent of the request. @default 70 */
  readonly cpuUtilization?: number;
  /** Target average memory utilisation, percent of the request. @default 80 */
  readonly memoryUtilization?: number;
  /**
   * Target active agents per pod, read as the `zeroplane_agents_active` pods metric through the
   * Prometheus adapter. Must be at most the group's `maxAgents`.
   * @default none (CPU and memory only)
   */
  readonly activeAgentsPerPod?: number;
  /** Seconds the HPA waits before acting on a lower recommendation. @default 300 */
  readonly scaleDownStabilizationSeconds?: number;
}

/** How clients outside the cluster reach an agent-server group. */
export type ExposureSpec =
  | {
      /** A ClusterIP Service only: reachable inside the cluster. */
      readonly type: "internal";
    }
  | {
      /** An AWS Network Load Balancer through the aws-load-balancer-controller (ip targets). */
      readonly type: "nlb";
      /** `internal` (VPC only) or `internet-facing`. @default "internal" */
      readonly scheme?: "internal" | "internet-facing";
      /** CIDRs allowed to reach the load balancer. Required, non-empty; never 0.0.0.0/0 for internet-facing. */
      readonly sourceRanges: readonly string[];
      /**
       * CIDRs the NLB's health checks come from: the VPC CIDR(s) of its subnets. Required. With ip
       * targets the NLB checks each pod from its own VPC addresses (HTTP GET /readyz on the metrics
       * port), so the group's NetworkPolicy admits that port from these ranges; without it every target
       * is unhealthy and the NLB fails open. The stacks fill it from `zeroplane:aws.vpcCidr`.
       */
      readonly healthCheckCidrs?: readonly string[];
      /** Cross-zone load balancing. @default true */
      readonly crossZone?: boolean;
      /** Extra annotations for the Service (e.g. subnets, EIP allocations). @default none */
      readonly annotations?: Readonly<Record<string, string>>;
    };

/** One group of agent servers: a Deployment (or StatefulSet) with its Service, PDB and optional HPA. */
export interface AgentServerGroupSpec {
  /** Group name: a DNS label (lowercase letters, digits, '-'), unique in the platform. */
  readonly name: string;
  /** Fixed replica count. Not allowed together with `autoscaling`. @default 2 (when not autoscaled) */
  readonly replicas?: number;
  /** Horizontal autoscaling. When set, the workload has no static `replicas`. @default none */
  readonly autoscaling?: AutoscalingSpec;
  /**
   * The server container's resources (sockets, keys, NATS; no agent runs here).
   * @default requests 250m / 512Mi, limits 1 / 1Gi, ephemeral storage 1Gi
   */
  readonly resources?: ResourceSpec;
  /**
   * The runner sidecar's resources. Every agent's CPU and memory count against these, so an agent that
   * exhausts memory OOM-kills the runner (and its agents), never the server. `ephemeralStorage` also
   * sizes the agents' /tmp.
   * @default requests 250m / 512Mi, limits 2 / 2Gi, ephemeral storage 1Gi
   */
  readonly runnerResources?: ResourceSpec;
  /** Most agents one server runs at once (server.maxAgents). @default the runtime's default (100) */
  readonly maxAgents?: number;
  /**
   * How long the rest of the SIGTERM drain may take after the agent drain (server.shutdownGraceMs):
   * stopping agents, flushing events, closing sockets. The pod's terminationGracePeriodSeconds is
   * agentDrainMs plus this plus a 10 s margin.
   * @default the runtime's default (25000)
   */
  readonly shutdownGraceMs?: number;
  /**
   * The drain that waits (server.agentDrainMs): on SIGTERM the server refuses spawns at once and lets
   * running agents finish for up to this long before it stops the rest. The pod's
   * terminationGracePeriodSeconds becomes agentDrainMs + shutdownGraceMs plus a 10 s margin; above
   * zero the PodDisruptionBudget lets one server drain at a time (`maxUnavailable: 1`, unless
   * `minAvailable` is set) and the HPA removes at most one pod per drain (periods capped at 1800 s).
   * See docs/operations.md, "Draining", for the trade-offs.
   * @default 0 (agents are stopped at once)
   */
  readonly agentDrainMs?: number;
  /** Exposure outside the cluster. @default { type: "internal" } */
  readonly exposure?: ExposureSpec;
  /** Workload kind. A StatefulSet gives each server a stable id and its own state volume. @default "Deployment" */
  readonly workload?: "Deployment" | "StatefulSet";
  /** PodDisruptionBudget minAvailable. At most the replica count (or the HPA's minReplicas). @default 1 */
  readonly minAvailable?: number;
  /** Size limit of the writable state emptyDir (Deployment) or PVC size (StatefulSet). @default "1Gi" */
  readonly stateSize?: string;
  /** Log level (log.level). @default "info" */
  readonly logLevel?: "trace" | "debug" | "info" | "warn" | "error" | "fatal";
  /** Extra labels on the group's pods (e.g. for cost allocation). @default none */
  readonly podLabels?: Readonly<Record<string, string>>;
}

/** TLS material from an existing `kubernetes.io/tls` Secret (keys tls.crt, tls.key, ca.crt). */
export interface TlsSecretSpec {
  /** Name of the Secret. */
  readonly secretName: string;
  /** Require and verify client certificates. @default false for client TLS, true for cluster TLS */
  readonly verify?: boolean;
}

/** A leaf node remote: this cluster connects out to another NATS system. */
export interface LeafnodeRemoteSpec {
  /** Remote URL, e.g. `nats-leaf://hub.example.internal:7422` or `tls://...`. */
  readonly url: string;
  /** Secret holding a `.creds` file for the remote, key `creds`. @default none (anonymous) */
  readonly credentialsSecret?: string;
  /** Account to bind the remote to. @default the default account */
  readonly account?: string;
}

/** A gateway to another NATS cluster (super-cluster across regions). */
export interface GatewaySpec {
  /** The other cluster's name. */
  readonly name: string;
  /** Its gateway URLs, e.g. `nats://nats-gw.eu-west-1.example.internal:7222`. */
  readonly urls: readonly string[];
}

/** The NATS cluster with JetStream that carries lifecycle events. */
export interface NatsClusterSpec {
  /** Server count. With JetStream: 1 (development) or an odd number of 3 or more. */
  readonly replicas: number;
  /** JetStream file store on a PVC per server. `false` turns JetStream off. @default { storageSize: "10Gi" } */
  readonly jetstream?:
    | false
    | {
        /** PVC size per server, e.g. "10Gi". */
        readonly storageSize: string;
        /** StorageClass of the PVCs. @default the cluster's default class */
        readonly storageClassName?: string;
        /** JetStream memory store limit. @default "256Mi" */
        readonly memoryStoreSize?: string;
      };
  /** CPU and memory per server; requests equal limits. @default cpu "500m", memory "1Gi" */
  readonly resources?: { readonly cpu: string; readonly memory: string };
  /** NATS server image. @default nats 2.10.22-alpine */
  readonly image?: ImageSpec;
  /**
   * Credentials the agent servers use: an existing Secret with keys `user` and `password`
   * (`NATS_AUTH_SECRET_KEYS`).
   * The password goes into the NATS pods as an environment variable from the Secret, and into the
   * agent servers as mounted files; never into a ConfigMap. Use letters and digits only.
   * @default none (no authentication; only the NetworkPolicy guards the port)
   */
  readonly auth?: { readonly secretName: string };
  /**
   * TLS from existing Secrets. With `client`, the agent servers connect with `tls://` and verify the
   * server with the Secret's `ca.crt` (client `verify` must stay off: they present no certificate).
   * With `cluster`, routes between the NATS servers use TLS (verify on: certificates need both the
   * serverAuth and clientAuth usages).
   * @default none
   */
  readonly tls?: { readonly client?: TlsSecretSpec; readonly cluster?: TlsSecretSpec };
  /** Leaf node remotes. @default none */
  readonly leafnodeRemotes?: readonly LeafnodeRemoteSpec[];
  /** Gateways; this cluster's gateway name is the platform name. @default none */
  readonly gateways?: readonly GatewaySpec[];
  /** CIDRs the leaf node remotes and gateways live in (egress and ingress allow). @default none */
  readonly remoteCidrs?: readonly string[];
  /** Prometheus exporter sidecar and a PodMonitor (when monitoring is on). @default true */
  readonly exporter?: boolean;
  /** Exporter image; pin it by digest in production. @default natsio/prometheus-nats-exporter 0.15.0 */
  readonly exporterImage?: ImageSpec;
}

/** Where the server's CURVE keypair comes from. No mode puts secret material in synthesized YAML. */
export type CurveKeySpec =
  | {
      /** A one-shot Job creates the Secret in the cluster if it is absent, and publishes the public key. */
      readonly mode: "generated";
      /**
       * The keygen command inside the runtime image; `{dir}` is replaced by the output directory, where it
       * must write `server.key` and `server.key_secret`.
       * @default ["zeroplane", "keygen", "--dir", "{dir}"]
       */
      readonly keygenCommand?: readonly string[];
    }
  | {
      /** An ExternalSecret (external-secrets.io/v1) fills the Secret from a store such as AWS Secrets Manager. */
      readonly mode: "external";
      /** The SecretStore or ClusterSecretStore to read from. */
      readonly secretStoreRef: {
        readonly name: string;
        readonly kind?: "SecretStore" | "ClusterSecretStore";
      };
      /** Key of the remote secret; it holds JSON properties `publicKey` and `secretKey` (Z85). */
      readonly remoteKey: string;
      /** How often the operator re-reads the store. @default "1h" */
      readonly refreshInterval?: string;
      /** The server's public key (Z85), published for clients in a ConfigMap. @default not published */
      readonly publicKey?: string;
    }
  | {
      /** A Secret that already exists, with keys `server.key` and `server.key_secret`. */
      readonly mode: "existing";
      readonly secretName: string;
      /** The server's public key (Z85), published for clients in a ConfigMap. @default not published */
      readonly publicKey?: string;
    }
  | {
      /** CURVE off: plaintext ZeroMQ. Development only; refused with external exposure. */
      readonly mode: "off";
      /** Must be `true`: the explicit acknowledgement that traffic is unencrypted. */
      readonly acceptPlaintext: true;
    };

/** Where the client allowlist (one Z85 public key per line) comes from. */
export type AllowlistSpec =
  | {
      /** A ConfigMap built from these public keys (public keys are not secrets). */
      readonly source: "publicKeys";
      readonly publicKeys: readonly string[];
    }
  | {
      /** An existing ConfigMap with key `allowlist.txt`. */
      readonly source: "configMap";
      readonly name: string;
    }
  | {
      /** An existing Secret with key `allowlist.txt`. */
      readonly source: "secret";
      readonly name: string;
    };

/** Pods allowed to call the agent servers: by namespace labels, pod labels, or both (AND). */
export interface PeerSelectorSpec {
  /** Labels of the client namespaces. @default the platform's own namespace */
  readonly namespaceLabels?: Readonly<Record<string, string>>;
  /** Labels of the client pods. @default every pod in the selected namespaces */
  readonly podLabels?: Readonly<Record<string, string>>;
}

/** The namespace's network policies: default deny plus explicit allows. */
export interface NetworkPolicySpec {
  /** Clients allowed to reach the ROUTER and PUB ports. @default none (only the load balancer's source ranges) */
  readonly clients?: readonly PeerSelectorSpec[];
  /** CIDRs the spawned agents may reach (e.g. an API gateway or a proxy). @default none */
  readonly agentEgressCidrs?: readonly string[];
  /** Ports for `agentEgressCidrs`. @default [443] */
  readonly agentEgressPorts?: readonly number[];
  /**
   * CIDRs of the Kubernetes API server, for the keygen Job only (generated CURVE mode).
   * @default ["0.0.0.0/0"] on ports 443 and 6443: narrow it to the API endpoint when you know it
   */
  readonly apiServerCidrs?: readonly string[];
}

/** Prometheus-operator scraping, alerts and a Grafana dashboard. */
export interface MonitoringSpec {
  /** Create monitoring objects. */
  readonly enabled: boolean;
  /** Scrape the agent servers with a ServiceMonitor or a PodMonitor. @default "ServiceMonitor" */
  readonly scrapeKind?: "ServiceMonitor" | "PodMonitor";
  /** Labels your Prometheus selects monitors and rules by (e.g. `release: kube-prometheus-stack`). @default none */
  readonly selectorLabels?: Readonly<Record<string, string>>;
  /** Labels of the namespace Prometheus runs in (NetworkPolicy). @default kubernetes.io/metadata.name: monitoring */
  readonly prometheusNamespaceLabels?: Readonly<Record<string, string>>;
  /** Labels of the Prometheus pods (NetworkPolicy). @default app.kubernetes.io/name: prometheus */
  readonly prometheusPodLabels?: Readonly<Record<string, string>>;
  /** Grafana dashboard ConfigMap (picked up by the Grafana sidecar via `grafana_dashboard: "1"`). @default true */
  readonly dashboard?: boolean;
}

/** The whole environment. */
export interface ZeroplanePlatformProps {
  /** Namespace everything goes into (a DNS label, not `default`). */
  readonly namespace: string;
  /** Create the Namespace object with Pod Security "restricted" enforced. @default true */
  readonly createNamespace?: boolean;
  /** Name prefix of every object, and the NATS cluster / gateway name. @default "zeroplane" */
  readonly name?: string;
  /** The runtime image (agent servers and the keygen Job). */
  readonly image: ImageSpec;
  /** Agent-server groups. At least one. */
  readonly agentServers: readonly AgentServerGroupSpec[];
  /** The NATS cluster. @default none: the servers run without lifecycle events */
  readonly nats?: NatsClusterSpec;
  /** The server's CURVE keypair. */
  readonly curve: CurveKeySpec;
  /** The client allowlist. Required when CURVE is on. @default none */
  readonly allowlist?: AllowlistSpec;
  /** Network policies. Always created; this tunes the allows. @default no clients allowed */
  readonly networkPolicy?: NetworkPolicySpec;
  /** Monitoring. @default { enabled: false } */
  readonly monitoring?: MonitoringSpec;
  /** Extra labels on every object (e.g. `app.kubernetes.io/part-of`). @default none */
  readonly labels?: Readonly<Record<string, string>>;
}
