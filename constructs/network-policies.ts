/**
 * The namespace's NetworkPolicies: a default deny for ingress and egress, then one explicit allow per
 * workload. NatsCluster adds its own policy; this module holds the rest and the shared peer helpers.
 */
import { Construct } from "constructs";
import * as k8s from "cdk8s-plus-27/lib/imports/k8s.js";
import { DEFAULT_PORTS } from "../runtime/config/names.js";
import { sortedRecord } from "./common.js";
import { checkCidrs } from "./load-balancer.js";
import { NATS_PORTS } from "./nats-config.js";

/** A peer by namespace labels and/or pod labels (both set: AND). Neither: every pod of this namespace. */
export interface PeerLabels {
  /** Labels of the peer's namespace. @default this namespace only */
  readonly namespaceLabels?: Readonly<Record<string, string>>;
  /** Labels of the peer's pods. @default every pod (of the selected namespaces) */
  readonly podLabels?: Readonly<Record<string, string>>;
}

/** The peer as a NetworkPolicy `from`/`to` entry. */

export function peerFrom(peer: PeerLabels): k8s.NetworkPolicyPeer {
  const out: { namespaceSelector?: k8s.LabelSelector; podSelector?: k8s.LabelSelector } = {};
  if (peer.namespaceLabels) out.namespaceSelector = { matchLabels: sortedRecord(peer.namespaceLabels) };
  out.podSelector = { matchLabels: sortedRecord(peer.podLabels ?? {}) };
  return out;
}

const tcp = (port: number): k8s.NetworkPolicyPort => ({
  protocol: "TCP",
  port: k8s.IntOrString.fromNumber(port),
});

/** Egress to the cluster DNS (kube-dns / CoreDNS in kube-system), UDP and TCP 53. */
export const DNS_PEERS: k8s.NetworkPolicyEgressRule = {
  to: [
    {
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
      podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
    },
  ],
  ports: [
    { protocol: "UDP", port: k8s.IntOrString.fromNumber(53) },
    { protocol: "TCP", port: k8s.IntOrString.fromNumber(53) },
  ],
};

/** Where a policy lives and what it is called. */
export interface PolicyMetadataProps {
  /** The policy's namespace. */
  readonly namespace: string;
  /** The policy's name. */
  readonly name: string;
  /** Labels on the policy. */
  readonly labels: Record<string, string>;
}

export type DefaultDenyProps = PolicyMetadataProps;

/** Denies all ingress and egress for every pod in the namespace; the other policies add allows. */
export class DefaultDenyPolicy extends Construct {
  constructor(scope: Construct, id: string, props: DefaultDenyProps) {
    super(scope, id);
    new k8s.KubeNetworkPolicy(this, "policy", {
      metadata: { name: props.name, namespace: props.namespace, labels: props.labels },
      spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    });
  }
}

/** The policy is named after the group's object name, in the group's namespace. */
export interface AgentServerPolicyProps extends PolicyMetadataProps {
  /** The group's pod selector. */
  readonly podLabels: Record<string, string>;
  /** Clients allowed to the ROUTER and PUB ports. */
  readonly clients: readonly PeerLabels[];
  /** Load balancer source ranges allowed to the ROUTER and PUB ports (the NLB keeps client addresses). */
  readonly sourceRanges: readonly string[];
  /** The load balancer's health checkers (its VPC), allowed to the metrics port for GET /readyz. */
  readonly healthCheckCidrs: readonly string[];
  /** Prometheus, allowed to the metrics port. @default no scrape */
  readonly prometheus?: PeerLabels;
  /** The NATS pods the servers publish to. @default no NATS egress */
  readonly nats?: Readonly<Record<string, string>>;
  /** Extra egress for the spawned agents. */
  /** Extra egress for the spawned agents (may be empty). */
  readonly agentEgressCidrs: readonly string[];
  /** TCP ports for `agentEgressCidrs`. */
  readonly agentEgressPorts: readonly number[];
}

/** Ingress and egress allows for one agent-server group. */
export class AgentServerNetworkPolicy extends Construct {
  constructor(scope: Construct, id: string, props: AgentServerPolicyProps) {
    super(scope, id);
    checkCidrs(props.agentEgressCidrs, "networkPolicy.agentEgressCidrs");
    const servicePorts = [tcp(DEFAULT_PORTS.router), tcp(DEFAULT_PORTS.stream)];
    const ingress: k8s.NetworkPolicyIngressRule[] = [];
    const clientPeers = [
      ...props.clients.map(peerFrom),
      ...[...props.sourceRanges].sort().map((cidr) => ({ ipBlock: { cidr } })),
    ];
    if (clientPeers.length) ingress.push({ from: clientPeers, ports: servicePorts });
    if (props.prometheus)
      ingress.push({ from: [peerFrom(props.prometheus)], ports: [tcp(DEFAULT_PORTS.http)] });
    if (props.healthCheckCidrs.length) {
      ingress.push({
        from: [...props.healthCheckCidrs].sort().map((cidr) => ({ ipBlock: { cidr } })),
        ports: [tcp(DEFAULT_PORTS.http)],
      });
    }
    const egress: k8s.NetworkPolicyEgressRule[] = [DNS_PEERS];
    if (props.nats)
      egress.push({ to: [{ podSelector: { matchLabels: props.nats } }], ports: [tcp(NATS_PORTS.client)] });
    if (props.agentEgressCidrs.length) {
      egress.push({
        to: [...props.agentEgressCidrs].sort().map((cidr) => ({ ipBlock: { cidr } })),
        ports: props.agentEgressPorts.map(tcp),
      });
    }
    new k8s.KubeNetworkPolicy(this, "policy", {
      metadata: { name: props.name, namespace: props.namespace, labels: props.labels },
      spec: {
        podSelector: { matchLabels: props.podLabels },
        policyTypes: ["Ingress", "Egress"],
        ...(ingress.length ? { ingress } : {}),
        egress,
      },
    });
  }
}

/** The policy lives in the Job's namespace. */
export interface KeygenPolicyProps extends PolicyMetadataProps {
  /** The Job's pod labels. */
  readonly podLabels: Record<string, string>;
  /** Where the Kubernetes API server is (ports 443 and 6443). */
  readonly apiServerCidrs: readonly string[];
}

/** The keygen Job talks only to DNS and the Kubernetes API server; nothing talks to it. */
export class KeygenNetworkPolicy extends Construct {
  constructor(scope: Construct, id: string, props: KeygenPolicyProps) {
    super(scope, id);
    checkCidrs(props.apiServerCidrs, "networkPolicy.apiServerCidrs");
    new k8s.KubeNetworkPolicy(this, "policy", {
      metadata: { name: props.name, namespace: props.namespace, labels: props.labels },
      spec: {
        podSelector: { matchLabels: props.podLabels },
        policyTypes: ["Ingress", "Egress"],
        egress: [
          DNS_PEERS,
          {
            to: [...props.apiServerCidrs].sort().map((cidr) => ({ ipBlock: { cidr } })),
            ports: [tcp(443), tcp(6443)],
          },
        ],
      },
    });
  }
}
