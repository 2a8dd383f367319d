/**
 * Network exposure: NetworkPolicy coverage, Services, external load balancers (CHECKS.md section H).
 */
import { ENV_VARS } from "../../runtime/config/names.js";
import type { K8sObject, ObjectFinding, ObjectRule, Rule, SetRule } from "../core/types.js";
import { parseEnvBoolean, resolveEnv } from "../k8s/env.js";
import { at, list, namespaceOf, nameOf, str, stringMap } from "../k8s/read.js";
import { labelSelectorMatches, mapSelectorMatches } from "../k8s/selectors.js";
import { isExternalLoadBalancer, LOAD_BALANCER_SCHEME_ANNOTATION, servicesNamed } from "../k8s/services.js";
import { containersOf, describeContainer, workloadsIn } from "../k8s/workloads.js";
import { findingOnEach } from "./define.js";

const CURVE_VAR = ENV_VARS["security.curve"];
const OPEN_RANGES = new Set(["0.0.0.0/0", "::/0"]);

/** The policy types a NetworkPolicy enforces (the API's defaulting when `policyTypes` is unset). */
export function policyTypesOf(policy: K8sObject): Set<string> {
  const declared = list(at(policy, "spec", "policyTypes")).filter((t): t is string => typeof t === "string");
  if (declared.length) return new Set(declared);
  return new Set(at(policy, "spec", "egress") !== undefined ? ["Ingress", "Egress"] : ["Ingress"]);
}

export function networkPoliciesSelecting(
  objects: readonly K8sObject[],
  namespace: string,
  labels: Readonly<Record<string, string>>,
): K8sObject[] {
  return objects.filter(
    (o) =>
      o.kind === "NetworkPolicy" &&
      namespaceOf(o) === namespace &&
      labelSelectorMatches(at(o, "spec", "podSelector"), labels),
  );
}

/** Whether an egress rule lets DNS through: no port list (all ports) or port 53. */
function allowsDns(policy: K8sObject): boolean {
  return list(at(policy, "spec", "egress")).some((rule) => {
    const ports = list(at(rule, "ports"));
    return (
      ports.length === 0 ||
      ports.some((p) => at(p, "port") === 53 || at(p, "port") === "53" || at(p, "port") === "dns")
    );
  });
}

export function selectedWorkloads(objects: readonly K8sObject[], service: K8sObject) {
  const selector = at(service, "spec", "selector");
  return workloadsIn(objects).filter(
    (w) => namespaceOf(w.object) === namespaceOf(service) && mapSelectorMatches(selector, w.template.labels),
  );
}

const setRules: readonly SetRule[] = [
  {
    id: "netpol-selects-every-pod",
    severity: "error",
    scope: "set",
    description:
      "Every pod is selected by NetworkPolicies that together enforce both Ingress and Egress (a default-deny plus allows, or policies with both policyTypes).",
    fix: "Add a default-deny NetworkPolicy (podSelector: {}, policyTypes: [Ingress, Egress]) to the namespace, then allow the needed flows.",
    checks: ["netpol-selects-every-pod"],
    check(objects) {
      return workloadsIn(objects).flatMap(({ object, template }) => {
        const types = new Set(
          networkPoliciesSelecting(objects, namespaceOf(object), template.labels).flatMap((p) => [
            ...policyTypesOf(p),
          ]),
        );
        const missing = ["Ingress", "Egress"].filter((t) => !types.has(t));
        return missing.length
          ? [
              {
                object,
                message: `no NetworkPolicy enforces ${missing.join(" or ")} for its pods`,
                path: template.metadataPath,
              },
            ]
          : [];
      });
    },
  },
  {
    id: "netpol-targets-pods",
    severity: "error",
    scope: "set",
    description: "Every NetworkPolicy's podSelector matches at least one pod template among the objects.",
    fix: "Fix the podSelector labels to match the workload's pod template labels, or delete the policy.",
    checks: ["netpol-targets-pods"],
    check(objects) {
      const workloads = workloadsIn(objects);
      const flagged = objects
        .filter((o) => o.kind === "NetworkPolicy")
        .filter(
          (policy) =>
            !workloads.some(
              (w) =>
                namespaceOf(w.object) === namespaceOf(policy) &&
                labelSelectorMatches(at(policy, "spec", "podSelector"), w.template.labels),
            ),
        );
      return findingOnEach(flagged, "the podSelector matches no pod template", ["spec", "podSelector"]);
    },
  },
  {
    id: "netpol-dns-egress",
    severity: "warning",
    scope: "set",
    description: "Pods whose egress is restricted may still reach DNS (port 53).",
    fix: "Add an egress rule to kube-dns on UDP and TCP 53 to a policy selecting these pods.",
    checks: ["netpol-dns-egress"],
    check(objects) {
      return workloadsIn(objects).flatMap(({ object, template }) => {
        const policies = networkPoliciesSelecting(objects, namespaceOf(object), template.labels);
        const restricted = policies.some((p) => policyTypesOf(p).has("Egress"));
        return restricted && !policies.some((p) => policyTypesOf(p).has("Egress") && allowsDns(p))
          ? [
              {
                object,
                message: "egress from its pods is restricted and no policy allows DNS",
                path: template.metadataPath,
              },
            ]
          : [];
      });
    },
  },
  {
    id: "svc-targets-pods",
    severity: "error",
    scope: "set",
    description: "Every Service with a selector selects at least one pod template among the objects.",
    fix: "Fix the Service's spec.selector to match the workload's pod template labels.",
    checks: ["svc-targets-pods"],
    check(objects) {
      const flagged = objects
        .filter((o) => o.kind === "Service" && Object.keys(stringMap(at(o, "spec", "selector"))).length > 0)
        .filter((service) => selectedWorkloads(objects, service).length === 0);
      return findingOnEach(flagged, "the selector matches no pod template", ["spec", "selector"]);
    },
  },
  {
    id: "lb-requires-curve",
    severity: "error",
    scope: "set",
    description: `An external LoadBalancer Service only fronts workloads with CURVE on (${CURVE_VAR} not false and verifiable).`,
    fix: `Remove ${CURVE_VAR}=false from the selected workload (CURVE is on by default), or keep the Service internal.`,
    checks: ["svc-lb-source-ranges"],
    check(objects) {
      const findings: ObjectFinding[] = [];
      for (const service of objects.filter(isExternalLoadBalancer)) {
        for (const { object, template } of selectedWorkloads(objects, service)) {
          for (const c of containersOf(template, ["containers"])) {
            const value = resolveEnv(c.container, CURVE_VAR, objects, namespaceOf(object));
            const where = `${describeContainer(c)}, exposed by external LoadBalancer ${nameOf(service) ?? ""}`;
            if (value.kind === "literal" && value.value !== "" && parseEnvBoolean(value.value) !== true) {
              findings.push({
                object,
                message: `${where}, sets ${CURVE_VAR}=${value.value}`,
                path: [...c.path, "env"],
              });
            } else if (value.kind === "unresolved") {
              findings.push({
                object,
                message: `${where}: CURVE cannot be verified (${value.reason})`,
                path: [...c.path, "env"],
              });
            }
          }
        }
      }
      return findings;
    },
  },
];

const objectRules: readonly ObjectRule[] = [
  {
    id: "netpol-prod-egress-bounded",
    severity: "error",
    scope: "object",
    productionOnly: true,
    kinds: ["NetworkPolicy"],
    description:
      "In production, no NetworkPolicy egress rule admits the whole internet (an ipBlock of 0.0.0.0/0 or ::/0): a pod that may reach any address can exfiltrate whatever it holds (the keygen Job holds the CURVE secret key).",
    fix: "Name the destination's CIDRs (for the keygen Job: zeroplane:networkPolicy.apiServerCidrs, the API endpoint's CIDR; for agents: agentEgressCidrs).",
    checks: [],
    check: (policy) =>
      list(at(policy, "spec", "egress")).flatMap((rule, ruleIndex) =>
        list(at(rule, "to")).flatMap((peer, peerIndex) => {
          const cidr = str(at(peer, "ipBlock", "cidr"));
          return cidr !== undefined && OPEN_RANGES.has(cidr)
            ? [
                {
                  message: `egress rule ${ruleIndex} admits ${cidr}`,
                  path: ["spec", "egress", ruleIndex, "to", peerIndex, "ipBlock", "cidr"],
                },
              ]
            : [];
        }),
      ),
  },
  {
    id: "svc-lb-source-ranges",
    severity: "error",
    scope: "object",
    kinds: ["Service"],
    description: `An external LoadBalancer Service sets spec.loadBalancerSourceRanges (not 0.0.0.0/0) and an explicit ${LOAD_BALANCER_SCHEME_ANNOTATION}.`,
    fix: `Set spec.loadBalancerSourceRanges to the client CIDRs and the ${LOAD_BALANCER_SCHEME_ANNOTATION} annotation (internet-facing or internal).`,
    checks: ["svc-lb-source-ranges"],
    check(service) {
      if (!isExternalLoadBalancer(service)) return [];
      const ranges = list(at(service, "spec", "loadBalancerSourceRanges")).filter(
        (r): r is string => typeof r === "string",
      );
      const findings = [];
      if (ranges.length === 0)
        findings.push({
          message: "the external LoadBalancer has no loadBalancerSourceRanges",
          path: ["spec", "loadBalancerSourceRanges"],
        });
      for (const range of ranges.filter((r) => OPEN_RANGES.has(r))) {
        findings.push({
          message: `loadBalancerSourceRanges opens the LoadBalancer to the whole internet (${range})`,
          path: ["spec", "loadBalancerSourceRanges"],
        });
      }
      if (stringMap(at(service, "metadata", "annotations"))[LOAD_BALANCER_SCHEME_ANNOTATION] === undefined) {
        findings.push({
          message: `the LoadBalancer's scheme is not explicit (${LOAD_BALANCER_SCHEME_ANNOTATION})`,
          path: ["metadata", "annotations"],
        });
      }
      return findings;
    },
  },
  {
    id: "svc-no-nodeport",
    severity: "warning",
    scope: "object",
    kinds: ["Service"],
    description: "Services are not of type NodePort (it opens a port on every node).",
    fix: "Use ClusterIP, or a LoadBalancer with source ranges.",
    checks: ["svc-no-nodeport"],
    check: (service) =>
      str(at(service, "spec", "type")) === "NodePort"
        ? [{ message: "the Service is a NodePort", path: ["spec", "type"] }]
        : [],
  },
  {
    id: "svc-no-external-ips",
    severity: "error",
    scope: "object",
    kinds: ["Service"],
    description: "Services do not set spec.externalIPs (CVE-2020-8554 traffic interception).",
    fix: "Remove spec.externalIPs; use a LoadBalancer Service.",
    checks: ["svc-no-external-ips"],
    check: (service) =>
      list(at(service, "spec", "externalIPs")).length
        ? [{ message: "the Service sets externalIPs", path: ["spec", "externalIPs"] }]
        : [],
  },
  {
    id: "ingress-tls",
    severity: "warning",
    scope: "object",
    kinds: ["Ingress"],
    description: "Ingresses terminate TLS (spec.tls).",
    fix: "Add spec.tls with a certificate Secret (or cert-manager annotation).",
    checks: ["ingress-tls"],
    check: (ingress) =>
      list(at(ingress, "spec", "tls")).length
        ? []
        : [{ message: "the Ingress has no tls section", path: ["spec", "tls"] }],
  },
  {
    id: "ingress-host-set",
    severity: "warning",
    scope: "object",
    kinds: ["Ingress"],
    description: "Every Ingress rule names a host.",
    fix: "Set spec.rules[].host.",
    checks: ["ingress-host-set"],
    check: (ingress) =>
      list(at(ingress, "spec", "rules"))
        .map((rule, index) => ({ rule, index }))
        .filter(({ rule }) => !str(at(rule, "host")))
        .map(({ index }) => ({
          message: `rule ${index} has no host`,
          path: ["spec", "rules", index, "host"],
        })),
  },
];

const ingressTargets: SetRule = {
  id: "ingress-targets-service",
  severity: "error",
  scope: "set",
  description: "Every Ingress backend names a Service among the objects.",
  fix: "Fix the backend's service name, or add the Service.",
  checks: ["ingress-targets-service"],
  check(objects) {
    return objects
      .filter((o) => o.kind === "Ingress")
      .flatMap((ingress) => {
        const backends = [
          at(ingress, "spec", "defaultBackend"),
          ...list(at(ingress, "spec", "rules")).flatMap((rule) =>
            list(at(rule, "http", "paths")).map((p) => at(p, "backend")),
          ),
        ];
        return backends
          .map((backend) => str(at(backend, "service", "name")))
          .filter((name): name is string => name !== undefined)
          .filter((name) => servicesNamed(objects, name, namespaceOf(ingress)).length === 0)
          .map((name) => ({
            object: ingress,
            message: `backend Service "${name}" is not among the objects`,
            path: ["spec"],
          }));
      });
  },
};

export const networkRules: readonly Rule[] = [...setRules, ingressTargets, ...objectRules];
