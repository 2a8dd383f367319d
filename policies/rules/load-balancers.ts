/**
 * Load balancer health checks reach the pods. An AWS NLB checks its targets from its own VPC (private)
 * addresses; when no NetworkPolicy admits the health-check port from there, every target is unhealthy
 * and the NLB fails open, so a wedged or draining pod keeps getting clients.
 */
import type { K8sObject, ObjectFinding, SetRule } from "../core/types.js";
import { at, list, namespaceOf, num, str, stringMap } from "../k8s/read.js";
import { containersOf } from "../k8s/workloads.js";
import { networkPoliciesSelecting, policyTypesOf, selectedWorkloads } from "./network.js";

const LBC = "service.beta.kubernetes.io/aws-load-balancer";
export const HEALTH_CHECK_PORT_ANNOTATION = `${LBC}-healthcheck-port`;

/** IPv4 ranges a VPC (and so an NLB's health checker) can use: RFC 1918 and the shared 100.64/10. */
const PRIVATE_V4: readonly [string, number][] = [
  ["10.0.0.0", 8],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  ["100.64.0.0", 10],
];

function ipv4ToNumber(address: string): number | undefined {
  const parts = address.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return parts.reduce((sum, part) => sum * 256 + part, 0);
}

function v4Range(address: string, bits: number): [number, number] | undefined {
  const start = ipv4ToNumber(address);
  if (start === undefined || bits < 0 || bits > 32) return undefined;
  const size = 2 ** (32 - bits);
  const first = Math.floor(start / size) * size;
  return [first, first + size - 1];
}

/** Whether a CIDR overlaps private address space (where a VPC's load balancer nodes live). */
export function overlapsPrivateSpace(cidr: string): boolean {
  const [address = "", bitsText = ""] = cidr.split("/");
  if (address.includes(":")) {
    // Unique local (fc00::/7) or a range wide enough to contain it.
    return /^f[cd]/i.test(address) || Number(bitsText) <= 6;
  }
  const range = v4Range(address, Number(bitsText));
  if (!range) return false;
  return PRIVATE_V4.some(([net, bits]) => {
    const priv = v4Range(net, bits)!;
    return range[0] <= priv[1] && priv[0] <= range[1];
  });
}

/** A port (number, numeric string or container port name) as a number, given the pods' named ports. */
function resolvePort(port: unknown, named: ReadonlyMap<string, number>): number | undefined {
  const asNumber = num(port) ?? (typeof port === "string" && /^\d+$/.test(port) ? Number(port) : undefined);
  if (asNumber !== undefined) return asNumber;
  const name = str(port);
  return name === undefined ? undefined : named.get(name);
}

/** The pod ports the health checks hit: the annotation's port, or every traffic port (the default). */
function healthCheckPorts(service: K8sObject, named: ReadonlyMap<string, number>): number[] {
  const annotated = stringMap(at(service, "metadata", "annotations"))[HEALTH_CHECK_PORT_ANNOTATION];
  if (annotated !== undefined && annotated !== "traffic-port") {
    const port = resolvePort(annotated, named);
    return port === undefined ? [] : [port];
  }
  return list(at(service, "spec", "ports")).flatMap((entry) => {
    const port = resolvePort(at(entry, "targetPort") ?? at(entry, "port"), named);
    return port === undefined ? [] : [port];
  });
}

/** Whether one ingress rule lets private-address sources reach `port`. */
function ruleAdmits(rule: unknown, port: number, named: ReadonlyMap<string, number>): boolean {
  const ports = list(at(rule, "ports"));
  const portOk =
    ports.length === 0 ||
    ports.some((entry) => {
      // A port entry without a port admits every port of its protocol.
      if (at(entry, "port") === undefined) return true;
      const start = resolvePort(at(entry, "port"), named);
      const end = num(at(entry, "endPort")) ?? start;
      return start !== undefined && end !== undefined && start <= port && port <= end;
    });
  if (!portOk) return false;
  const from = list(at(rule, "from"));
  if (from.length === 0) return true;
  return from.some((peer) => {
    const cidr = str(at(peer, "ipBlock", "cidr"));
    return cidr !== undefined && overlapsPrivateSpace(cidr);
  });
}

function isAwsLoadBalancer(service: K8sObject): boolean {
  if (str(at(service, "spec", "type")) !== "LoadBalancer") return false;
  const annotations = stringMap(at(service, "metadata", "annotations"));
  return (
    Object.keys(annotations).some((key) => key.startsWith(LBC)) ||
    str(at(service, "spec", "loadBalancerClass")) === "service.k8s.aws/nlb"
  );
}

export const loadBalancerRules: readonly SetRule[] = [
  {
    id: "lb-health-check-admitted",
    severity: "error",
    scope: "set",
    description:
      "Every AWS load balancer's health-check port is admitted, by a NetworkPolicy selecting its pods, from private (VPC) addresses, where the load balancer checks its targets from.",
    fix: "Add an ingress rule for the health-check port from the VPC CIDR (the constructs do it from exposure.healthCheckCidrs), or point the health check at a port that is admitted.",
    checks: [],
    check(objects) {
      const findings: ObjectFinding[] = [];
      for (const service of objects.filter(isAwsLoadBalancer)) {
        for (const { template } of selectedWorkloads(objects, service)) {
          const named = new Map<string, number>();
          for (const c of containersOf(template, ["containers"])) {
            for (const p of list(c.container.ports)) {
              const name = str(at(p, "name"));
              const number = num(at(p, "containerPort"));
              if (name !== undefined && number !== undefined) named.set(name, number);
            }
          }
          const policies = networkPoliciesSelecting(objects, namespaceOf(service), template.labels).filter(
            (p) => policyTypesOf(p).has("Ingress"),
          );
          // No ingress policy selects the pods: ingress is open, so health checks get through.
          if (policies.length === 0) continue;
          for (const port of healthCheckPorts(service, named)) {
            const admitted = policies.some((policy) =>
              list(at(policy, "spec", "ingress")).some((rule) => ruleAdmits(rule, port, named)),
            );
            if (!admitted) {
              findings.push({
                object: service,
                message: `health checks to pod port ${port} come from the load balancer's VPC addresses, but no NetworkPolicy admits private sources on it; every target would be unhealthy and the load balancer would fail open`,
                path: ["metadata", "annotations"],
              });
            }
          }
        }
      }
      return findings;
    },
  },
];
