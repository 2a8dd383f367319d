/**
 * Deploys synthesized objects to an existing cluster with @pulumi/kubernetes: a provider for the
 * kubeconfig and context from config, then two ConfigGroups: namespaces and CRDs first, everything
 * else after them (and after whatever AWS resources the caller names).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_PORTS } from "../../runtime/config/names.js";
import type { Environment } from "../environment/load.js";
import { isFoundation, type KubeObject } from "./manifests.js";

/** How clients reach one agent-server Service. */
export interface Endpoint {
  /**
   * ZeroMQ ROUTER: `tcp://host:port`, or `dns://name:port` for a headless Service (the client
   * connects to every ready server the name resolves to).
   */
  readonly router: string;
  /** ZeroMQ PUB (events), with the same scheme as `router`. */
  readonly events: string;
}

export class ZeroplaneKubernetes extends pulumi.ComponentResource {
  readonly provider: k8s.Provider;
  /** Namespaces and CRDs. */
  readonly foundation: k8s.yaml.ConfigGroup;
  /** Everything else. */
  readonly platform: k8s.yaml.ConfigGroup;
  /** Agent-server endpoints by Service name: in-cluster DNS, or the NLB's hostname once it exists. */
  readonly endpoints: pulumi.Output<Record<string, Endpoint>>;

  constructor(
    name: string,
    env: Environment,
    objects: readonly KubeObject[],
    opts: pulumi.ComponentResourceOptions & { readonly after?: pulumi.Resource[] } = {},
  ) {
    const { after = [], ...componentOpts } = opts;
    super("zeroplane:kubernetes:Environment", name, {}, componentOpts);
    this.provider = new k8s.Provider(
      "cluster",
      {
        // A path or the file's contents; contents are credentials, so keep them secret in state.
        kubeconfig:
          env.kubernetes?.kubeconfig === undefined ? undefined : pulumi.secret(env.kubernetes.kubeconfig),
        context: env.kubernetes?.context,
      },
      { parent: this },
    );
    // ConfigGroup may annotate the objects it is given; hand it copies.
    const copy = (list: readonly KubeObject[]) => list.map((object) => structuredClone(object));
    this.foundation = new k8s.yaml.ConfigGroup(
      "foundation",
      { objs: copy(objects.filter(isFoundation)) },
      { parent: this, provider: this.provider },
    );
    this.platform = new k8s.yaml.ConfigGroup(
      "platform",
      { objs: copy(objects.filter((object) => !isFoundation(object))) },
      { parent: this, provider: this.provider, dependsOn: [this.foundation, ...after] },
    );
    this.endpoints = endpoints(this.platform, objects);
    this.registerOutputs({ endpoints: this.endpoints });
  }
}

interface ServiceObject extends KubeObject {
  readonly spec?: {
    readonly type?: string;
    readonly clusterIP?: string;
    readonly ports?: readonly { name?: string; port: number }[];
  };
}

/** Services that carry the ROUTER port are agent-server endpoints (ClusterIP, headless and NLB). */
function endpoints(group: k8s.yaml.ConfigGroup, objects: readonly KubeObject[]) {
  const services = (objects as ServiceObject[])
    .filter((o) => o.kind === "Service" && o.spec?.ports?.some((p) => p.port === DEFAULT_PORTS.router))
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  const entries = services.map((service) => {
    const { name, namespace = "default" } = service.metadata;
    const port = (portName: "router" | "events") =>
      service.spec?.ports?.find((p) => p.name === portName)?.port ?? DEFAULT_PORTS[portName];
    const host: pulumi.Output<string> =
      service.spec?.type === "LoadBalancer"
        ? group
            .getResource("v1/Service", namespace, name)
            .status.apply((status) => status?.loadBalancer?.ingress?.[0]?.hostname ?? "pending")
        : pulumi.output(`${name}.${namespace}.svc.cluster.local`);
    const scheme = service.spec?.clusterIP === "None" ? "dns" : "tcp";
    return host.apply((h): [string, Endpoint] => [
      name,
      { router: `${scheme}://${h}:${port("router")}`, events: `${scheme}://${h}:${port("events")}` },
    ]);
  });
  return pulumi.all(entries).apply((pairs) => Object.fromEntries(pairs));
}
