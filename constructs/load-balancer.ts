/**
 * External exposure of an agent-server group: an AWS Network Load Balancer through the
 * aws-load-balancer-controller. Internal (ClusterIP) is the default and needs nothing from here.
 */
import type * as k8s from "cdk8s-plus-27/lib/imports/k8s.js";
import { DEFAULT_PORTS, HTTP_PATHS } from "../runtime/config/names.js";
import { check, sortedRecord } from "./common.js";
import type { ExposureSpec } from "./platform.js";

const NLB = "service.beta.kubernetes.io/aws-load-balancer";

const CIDR_V4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/;
const CIDR_V6 = /^[0-9a-fA-F:]+:[0-9a-fA-F:]*\/(12[0-8]|1[01]\d|[1-9]?\d)$/;

/** True for an IPv4 or IPv6 CIDR such as 10.0.0.0/8. */
export function isCidr(value: string): boolean {
  return typeof value === "string" && (CIDR_V4.test(value) || CIDR_V6.test(value));
}

/** Checks CIDR lists (source ranges, egress allows). */
export function checkCidrs(values: readonly string[] | undefined, prop: string): void {
  (values ?? []).forEach((value, index) =>
    check(
      isCidr(value),
      `${prop}[${index}]`,
      "is not a CIDR",
      value,
      "write it like 10.0.0.0/16 or 203.0.113.7/32",
    ),
  );
}

/**
 * The exposure checks the environment spec cannot make alone: CURVE on, no internet-wide range on an
 * internet-facing NLB, and health-check CIDRs. The spec checked the type, scheme and ranges.
 */
export function checkExposure(exposure: ExposureSpec | undefined, prop: string, curveOn: boolean): void {
  if (!exposure || exposure.type === "internal") return;
  check(
    curveOn,
    `${prop}.type`,
    "exposes the servers outside the cluster while CURVE is off, which would put plaintext agent control on the network",
    exposure.type,
    'turn CURVE on (curve.mode generated, external or existing) or use exposure { type: "internal" }',
  );
  if (exposure.scheme === "internet-facing") {
    const open = exposure.sourceRanges.find((range) => /\/0$/.test(range));
    check(
      open === undefined,
      `${prop}.sourceRanges`,
      "opens an internet-facing load balancer to the whole internet",
      open,
      "list only the client networks that need access",
    );
  }
  check(
    Array.isArray(exposure.healthCheckCidrs) && exposure.healthCheckCidrs.length > 0,
    `${prop}.healthCheckCidrs`,
    "is empty; the NLB health-checks pods from its VPC addresses, and without an allow for them every target is unhealthy and the NLB fails open (a wedged or draining server keeps getting clients)",
    exposure.healthCheckCidrs,
    "list the VPC CIDR(s) of the load balancer's subnets, e.g. ['10.20.0.0/16']",
  );
  checkCidrs(exposure.healthCheckCidrs, `${prop}.healthCheckCidrs`);
}

/** Service annotations and spec for an NLB (target type ip, explicit scheme, cross-zone). */
export function publicServiceSpec(exposure: Extract<ExposureSpec, { type: "nlb" }>): {
  annotations: Record<string, string>;
  spec: Pick<
    k8s.ServiceSpec,
    "type" | "loadBalancerClass" | "loadBalancerSourceRanges" | "allocateLoadBalancerNodePorts"
  >;
} {
  const crossZone = exposure.crossZone ?? true;
  const annotations = sortedRecord({
    ...exposure.annotations,
    [`${NLB}-type`]: "external",
    [`${NLB}-nlb-target-type`]: "ip",
    [`${NLB}-scheme`]: exposure.scheme ?? "internal",
    [`${NLB}-attributes`]: `load_balancing.cross_zone.enabled=${crossZone}`,
    // Keep the client address, so the NetworkPolicy's source ranges match real clients.
    [`${NLB}-target-group-attributes`]: "preserve_client_ip.enabled=true",
    // Readiness, not a TCP connect: a wedged or draining server fails /readyz and is taken out.
    [`${NLB}-healthcheck-protocol`]: "http",
    [`${NLB}-healthcheck-port`]: String(DEFAULT_PORTS.http),
    [`${NLB}-healthcheck-path`]: HTTP_PATHS.readyz,
  });
  return {
    annotations,
    spec: {
      type: "LoadBalancer",
      loadBalancerClass: "service.k8s.aws/nlb",
      loadBalancerSourceRanges: [...exposure.sourceRanges].sort(),
      // ip targets reach pods directly: no node ports needed.
      allocateLoadBalancerNodePorts: false,
    },
  };
}
