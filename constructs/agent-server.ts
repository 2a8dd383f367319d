/**
 * AgentServer: one group of Zeroplane agent servers, a Deployment (or StatefulSet) with its
 * ServiceAccount, ClusterIP and headless Services, PodDisruptionBudget and, when autoscaled, its
 * HorizontalPodAutoscaler.
 */
import { Construct } from "constructs";
import * as k8s from "cdk8s-plus-27/lib/imports/k8s.js";
import { DEFAULT_PORTS, SHARED_DEFAULTS } from "../runtime/config/names.js";
import { DEFAULT_RUNNER_RESOURCES } from "./agent-runner.js";
import {
  AGENT_SERVER_PORT_NAMES,
  agentServerPodSpec,
  terminationGraceSeconds,
  type DrainTimes,
} from "./agent-server-pod.js";
import { AgentServerAutoscaler } from "./autoscaling.js";
import {
  LABELS,
  check,
  checkDnsLabel,
  operatorCreatedMetadata,
  parseQuantity,
  sortedRecord,
  recommendedLabels,
} from "./common.js";
import { checkExposure, publicServiceSpec } from "./load-balancer.js";
import type { AgentServerGroupSpec, ResourceSpec } from "./platform.js";

export {
  AGENT_SERVER_CONTAINER,
  AGENT_SERVER_PORT_NAMES,
  NATS_CA_DIR,
  TERMINATION_MARGIN_SECONDS,
  terminationGraceSeconds,
  type DrainTimes,
} from "./agent-server-pod.js";

/**
 * A Service clients connect through (ROUTER and PUB ports). The Pulumi stack turns each into a
 * client endpoint, so it never has to guess which Services belong to agent servers.
 */
export interface ClientService {
  readonly name: string;
  readonly namespace: string;
  /** `dns` for the headless Service (a client connects to every ready pod the name resolves to), else `tcp`. */
  readonly scheme: "tcp" | "dns";
  /** A LoadBalancer Service: the cloud assigns its address. */
  readonly loadBalancer: boolean;
  readonly ports: { readonly router: number; readonly stream: number };
}

/** How an agent server reaches NATS. */
export interface AgentServerNatsProps {
  /** Client URL, e.g. `nats://zeroplane-nats.ns.svc.cluster.local:4222`. */
  readonly url: string;
  /** Replicas of the lifecycle stream (nats.replicas): at most the NATS cluster size, at most 5. */
  readonly streamReplicas: number;
  /** Byte limit of the lifecycle stream (nats.maxBytes). @default none (the runtime's default) */
  readonly streamMaxBytes?: number;
  /** Secret with the keys in `NATS_AUTH_SECRET_KEYS` (`user`, `password`), mounted as files. @default none */
  readonly credentialsSecret?: string;
  /**
   * Secret holding the CA (`ca.crt`) that signed the NATS server's client-port certificate; the agent
   * server verifies NATS with it (the URL must then be `tls://`). @default none (plain)
   */
  readonly tlsCaSecret?: string;
}

/** Where the allowlist is mounted from. */
export interface AllowlistSource {
  /** The kind of object holding `allowlist.txt`. */
  readonly kind: "configMap" | "secret";
  /** Its name. */
  readonly name: string;
}

export interface AgentServerProps extends AgentServerGroupSpec {
  /** Namespace of every object. */
  readonly namespace: string;
  /** Name of every object of this group, e.g. `zeroplane-default`. */
  readonly resourceName: string;
  /** Platform name (the `app.kubernetes.io/part-of` label). */
  readonly platformName: string;
  /** Full image reference. */
  readonly image: string;
  /** Secret holding the CURVE keypair. `undefined` means CURVE is off (plaintext, needs `allowPlaintext`). */
  readonly curveSecretName?: string;
  /** Explicit acknowledgement of plaintext when `curveSecretName` is unset. @default false */
  readonly allowPlaintext?: boolean;
  /** The client allowlist. @default none (any client with the server key may connect) */
  readonly allowlist?: AllowlistSource;
  /** NATS connection. @default none (lifecycle events off) */
  readonly nats?: AgentServerNatsProps;
  /** Labels on every object. @default none */
  readonly labels?: Readonly<Record<string, string>>;
  /** Secrets and ConfigMaps (`Secret/<name>`) the pods mount that the operator creates. @default none */
  readonly operatorCreated?: readonly string[];
}

type Metadata = { name: string; namespace: string; labels: Record<string, string> };

const DEFAULT_RESOURCES: ResourceSpec = {
  requests: { cpu: "250m", memory: "512Mi" },
  limits: { cpu: "1", memory: "1Gi" },
  ephemeralStorage: "1Gi",
};

export class AgentServer extends Construct {
  /** Labels that select this group's pods. */
  readonly selectorLabels: Record<string, string>;
  /** The ClusterIP Service (router, events, metrics). */
  readonly serviceName: string;
  /** The headless Service (router, events; ready pods only), `<name>-headless`, for `dns://` placement. */
  readonly headlessServiceName: string;
  /** The Services clients connect through: headless, ClusterIP and, when exposed, the load balancer. */
  readonly clientServices: readonly ClientService[];
  /** Replicas the PDB and alerts can count on: the static count or the HPA minimum. */
  readonly minReplicas: number;
  readonly resources: ResourceSpec;
  /** The runner sidecar's resources: the agents' CPU and memory count against these. */
  readonly runnerResources: ResourceSpec;
  readonly maxAgents: number;
  readonly workloadKind: "Deployment" | "StatefulSet";
  /** The SIGTERM drain: agents may finish for agentDrainMs, the rest of the shutdown takes shutdownGraceMs. */
  readonly drain: DrainTimes;

  constructor(scope: Construct, id: string, props: AgentServerProps) {
    super(scope, id);
    const name = props.resourceName;
    validateGroup(props);

    this.workloadKind = props.workload ?? "Deployment";
    this.resources = props.resources ?? DEFAULT_RESOURCES;
    this.runnerResources = props.runnerResources ?? DEFAULT_RUNNER_RESOURCES;
    this.maxAgents = props.maxAgents ?? SHARED_DEFAULTS["server.maxAgents"];
    this.serviceName = name;
    this.headlessServiceName = `${name}-headless`;
    const drain: DrainTimes = {
      agentDrainMs: props.agentDrainMs ?? SHARED_DEFAULTS["server.agentDrainMs"],
      shutdownGraceMs: props.shutdownGraceMs ?? SHARED_DEFAULTS["server.shutdownGraceMs"],
    };
    this.drain = drain;
    const replicas = props.autoscaling ? undefined : (props.replicas ?? 2);
    this.minReplicas = props.autoscaling?.minReplicas ?? replicas!;
    const minAvailable = props.minAvailable ?? Math.min(1, this.minReplicas - 1);
    checkMinAvailable(props, minAvailable, this.minReplicas);

    this.selectorLabels = {
      [LABELS.name]: "zeroplane",
      [LABELS.instance]: name,
    };
    const labels = recommendedLabels(props.labels, {
      name: "zeroplane",
      instance: name,
      component: "agent-server",
      partOf: props.platformName,
    });
    const metadata = { name, namespace: props.namespace, labels };

    new k8s.KubeServiceAccount(this, "service-account", {
      metadata,
      automountServiceAccountToken: false,
    });
    this.workload(props, metadata, replicas, drain);
    this.clientServices = this.services(props, metadata);
    this.disruptionBudget(props, metadata, minAvailable);
    if (props.autoscaling) {
      new AgentServerAutoscaler(this, "hpa", {
        metadata,
        target: { kind: this.workloadKind, name },
        spec: props.autoscaling,
        maxAgents: this.maxAgents,
        drainSeconds: terminationGraceSeconds(drain),
        prop: `agentServers[${props.name}].autoscaling`,
      });
    }
  }

  /** The Deployment or StatefulSet; no static replicas when the HPA owns the count. */
  private workload(
    props: AgentServerProps,
    metadata: Metadata,
    replicas: number | undefined,
    drain: DrainTimes,
  ): void {
    const template = {
      metadata: {
        labels: sortedRecord({ ...props.podLabels, ...metadata.labels }),
        ...operatorCreatedMetadata([
          ...(props.operatorCreated ?? []),
          props.nats?.credentialsSecret && `Secret/${props.nats.credentialsSecret}`,
          props.nats?.tlsCaSecret && `Secret/${props.nats.tlsCaSecret}`,
        ]),
      },
      spec: agentServerPodSpec({
        props,
        name: metadata.name,
        drain,
        selectorLabels: this.selectorLabels,
        workloadKind: this.workloadKind,
        resources: this.resources,
        runnerResources: this.runnerResources,
        maxAgents: this.maxAgents,
      }),
    };
    const count = replicas === undefined ? {} : { replicas };
    if (this.workloadKind === "Deployment") {
      new k8s.KubeDeployment(this, "deployment", {
        metadata,
        spec: {
          ...count,
          selector: { matchLabels: this.selectorLabels },
          strategy: {
            type: "RollingUpdate",
            rollingUpdate: {
              maxSurge: k8s.IntOrString.fromString("25%"),
              maxUnavailable: k8s.IntOrString.fromNumber(0),
            },
          },
          minReadySeconds: 5,
          progressDeadlineSeconds: 600,
          revisionHistoryLimit: 5,
          template,
        },
      });
      return;
    }
    new k8s.KubeStatefulSet(this, "statefulset", {
      metadata,
      spec: {
        ...count,
        serviceName: this.headlessServiceName,
        podManagementPolicy: "Parallel",
        selector: { matchLabels: this.selectorLabels },
        updateStrategy: { type: "RollingUpdate" },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Delete" },
        volumeClaimTemplates: [
          {
            metadata: { name: "state", labels: this.selectorLabels },
            spec: {
              accessModes: ["ReadWriteOnce"],
              resources: { requests: { storage: k8s.Quantity.fromString(props.stateSize ?? "1Gi") } },
            },
          },
        ],
        template,
      },
    });
  }

  /** The headless, ClusterIP and (exposed) load balancer Services; returns those clients use. */
  private services(props: AgentServerProps, metadata: Metadata): ClientService[] {
    const name = metadata.name;
    // Every group gets a headless Service: clients spread over the servers with
    // `dns://<name>-headless.<namespace>.svc.cluster.local:5555` (one address per ready pod), and a
    // StatefulSet needs it as its governing Service.
    new k8s.KubeService(this, "headless-service", {
      metadata: { ...metadata, name: this.headlessServiceName },
      spec: {
        clusterIp: "None",
        // Only ready servers: a client must never be handed a server that is starting or draining.
        publishNotReadyAddresses: false,
        selector: this.selectorLabels,
        // No metrics port: only the ClusterIP Service is scraped, so no target appears twice.
        ports: this.servicePorts(false),
      },
    });

    new k8s.KubeService(this, "service", {
      metadata,
      spec: { type: "ClusterIP", selector: this.selectorLabels, ports: this.servicePorts(true) },
    });
    const exposure = props.exposure ?? { type: "internal" };
    const publicServiceName = `${name}-public`;
    if (exposure.type === "nlb") {
      new k8s.KubeService(this, "public-service", {
        metadata: {
          ...metadata,
          name: publicServiceName,
          annotations: publicServiceSpec(exposure).annotations,
        },
        spec: {
          ...publicServiceSpec(exposure).spec,
          selector: this.selectorLabels,
          ports: this.servicePorts(false),
        },
      });
    }

    const clientService = (serviceName: string, scheme: "tcp" | "dns", loadBalancer: boolean) => ({
      name: serviceName,
      namespace: props.namespace,
      scheme,
      loadBalancer,
      ports: { router: DEFAULT_PORTS.router, stream: DEFAULT_PORTS.stream },
    });
    return [
      clientService(this.headlessServiceName, "dns", false),
      clientService(name, "tcp", false),
      ...(exposure.type === "nlb" ? [clientService(publicServiceName, "tcp", true)] : []),
    ];
  }

  private disruptionBudget(props: AgentServerProps, metadata: Metadata, minAvailable: number): void {
    new k8s.KubePodDisruptionBudget(this, "pdb", {
      metadata,
      spec: {
        // A server that waits for its agents is out of service for up to its whole drain: let
        // voluntary disruptions take one at a time, unless the spec chose minAvailable itself.
        ...(this.drain.agentDrainMs > 0 && props.minAvailable === undefined
          ? { maxUnavailable: k8s.IntOrString.fromNumber(1) }
          : { minAvailable: k8s.IntOrString.fromNumber(minAvailable) }),
        selector: { matchLabels: this.selectorLabels },
        unhealthyPodEvictionPolicy: "AlwaysAllow",
      },
    });
  }

  private servicePorts(withMetrics: boolean): k8s.ServicePort[] {
    const ports: k8s.ServicePort[] = [
      port(AGENT_SERVER_PORT_NAMES.router, DEFAULT_PORTS.router),
      port(AGENT_SERVER_PORT_NAMES.stream, DEFAULT_PORTS.stream),
    ];
    if (withMetrics) ports.push(port(AGENT_SERVER_PORT_NAMES.http, DEFAULT_PORTS.http));
    return ports;
  }
}

/** A PodDisruptionBudget that can never be met would block every node drain. */
function checkMinAvailable(props: AgentServerProps, minAvailable: number, minReplicas: number): void {
  check(
    minAvailable <= minReplicas,
    `agentServers[${props.name}].minAvailable`,
    `is more than the ${props.autoscaling ? "HPA's minReplicas" : "replica count"} (${minReplicas}), so the PodDisruptionBudget would block every node drain`,
    minAvailable,
    `set minAvailable to at most ${Math.max(0, minReplicas - 1)}, or raise ${props.autoscaling ? "autoscaling.minReplicas" : "replicas"}`,
  );
}

function port(name: string, number: number): k8s.ServicePort {
  return { name, port: number, targetPort: k8s.IntOrString.fromString(name), protocol: "TCP" };
}

/**
 * The group checks the environment spec (constructs/spec.ts) cannot make: object-name lengths,
 * requests within limits, CURVE and exposure together. The platform validated the rest at the top.
 */
export function validateGroup(props: AgentServerProps): void {
  const at = `agentServers[${props.name}]`;
  checkDnsLabel(props.name, `${at}.name`, 40);
  // StatefulSet pods carry a controller-revision-hash label of name + 11 characters (max 63).
  checkDnsLabel(props.resourceName, `${at} (object name ${props.platformName}-${props.name})`, 52);
  checkResources(props.resources, `${at}.resources`);
  checkResources(props.runnerResources, `${at}.runnerResources`);
  if (props.stateSize !== undefined) parseQuantity(props.stateSize, `${at}.stateSize`);
  check(
    props.curveSecretName !== undefined || props.allowPlaintext === true,
    `${at}`,
    "has no CURVE secret and no explicit plaintext acknowledgement",
    props.curveSecretName,
    "set curve to generated, external or existing (or mode off with acceptPlaintext: true for development)",
  );
  checkExposure(props.exposure, `${at}.exposure`, props.curveSecretName !== undefined);
}

function checkResources(resources: ResourceSpec | undefined, at: string): void {
  if (!resources) return;
  for (const kind of ["cpu", "memory"] as const) {
    const request = parseQuantity(resources.requests[kind], `${at}.requests.${kind}`);
    const limit = parseQuantity(resources.limits[kind], `${at}.limits.${kind}`);
    check(
      request <= limit,
      `${at}.requests.${kind}`,
      `is more than the limit (${resources.limits[kind]})`,
      resources.requests[kind],
      `lower the request or raise limits.${kind}`,
    );
  }
  if (resources.ephemeralStorage !== undefined) {
    parseQuantity(resources.ephemeralStorage, `${at}.ephemeralStorage`);
  }
}
