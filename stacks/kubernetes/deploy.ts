/**
 * Deploys synthesized objects to an existing cluster with @pulumi/kubernetes: a provider for the
 * kubeconfig and context from config, then two ConfigGroups: namespaces and CRDs first, everything
 * else after them (and after whatever AWS resources the caller names).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ClientService } from "../../constructs/index.js";
import type { Environment } from "../environment/load.js";
import { isFoundation, type KubeObject, type SynthesizedEnvironment } from "./manifests.js";

/** How clients reach one agent-server Service. */
export interface Endpoint {
  /**
   * ZeroMQ ROUTER: `tcp://host:port`, or `dns://name:port` for a headless Service (the client
   * connects to every ready server the name resolves to).
   */
  readonly router: string;
  /** The stream (ZeroMQ PUB), with the same scheme as `router`. The key keeps its published name. */
  readonly events: string;
}

export interface ZeroplaneKubernetesArgs {
  /** The environment: the kubeconfig and context to deploy with. */
  readonly environment: Environment;
  /** The synthesized objects and client Services (synthesizeEnvironment). */
  readonly synthesized: SynthesizedEnvironment;
  /** Resources the platform objects wait for, such as the AWS side. @default none */
  readonly after?: readonly pulumi.Resource[];
}

export class ZeroplaneKubernetes extends pulumi.ComponentResource {
  readonly provider: k8s.Provider;
  /** Namespaces and CRDs. */
  readonly foundation: k8s.yaml.ConfigGroup;
  /** Everything else. */
  readonly platform: k8s.yaml.ConfigGroup;
  /** Agent-server endpoints by Service name: in-cluster DNS, or the NLB's hostname once it exists. */
  readonly endpoints: pulumi.Output<Record<string, Endpoint>>;

  constructor(name: string, args: ZeroplaneKubernetesArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("zeroplane:kubernetes:Environment", name, {}, opts);
    const { environment: env, synthesized, after = [] } = args;
    const objects = synthesized.objects;
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
    this.endpoints = endpoints(this.platform, synthesized.clientServices);
    this.registerOutputs({ endpoints: this.endpoints });
  }
}

/** Each client Service as an endpoint; a load balancer's host is known once the cloud assigns it. */
function endpoints(group: k8s.yaml.ConfigGroup, services: readonly ClientService[]) {
  const entries = services.map((service) => {
    const { name, namespace, scheme, ports } = service;
    const host: pulumi.Output<string> = service.loadBalancer
      ? group
          .getResource("v1/Service", namespace, name)
          .status.apply((status) => status?.loadBalancer?.ingress?.[0]?.hostname ?? "pending")
      : pulumi.output(`${name}.${namespace}.svc.cluster.local`);
    return host.apply((h): [string, Endpoint] => [
      name,
      { router: `${scheme}://${h}:${ports.router}`, events: `${scheme}://${h}:${ports.stream}` },
    ]);
  });
  return pulumi.all(entries).apply((pairs) => Object.fromEntries(pairs));
}
