/**
 * NLB health checks reach the pods (issue 16, item 2): the NLB checks each ip target from its own VPC
 * addresses with GET /readyz on the metrics port, and the group's NetworkPolicy admits exactly that.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_PORTS, HTTP_PATHS } from "../../runtime/config/index.js";
import { violationsOf } from "../policies/support.js";
import { exampleSpec, find, minimalSpec, synth, type K8sObject } from "./fixtures.js";

const LBC = "service.beta.kubernetes.io/aws-load-balancer";
const prod = synth(exampleSpec("prod")).objects;

interface IngressRule {
  from?: { ipBlock?: { cidr: string } }[];
  ports?: { port: number | string }[];
}
const ingressOf = (objects: K8sObject[], name: string) =>
  find(objects, "NetworkPolicy", name).spec.ingress as IngressRule[];

describe("an NLB-exposed agent-server group", () => {
  it("health-checks readiness over HTTP on the metrics port, so a wedged or draining pod is taken out", () => {
    expect(find(prod, "Service", "zeroplane-default-public").metadata.annotations).toMatchObject({
      [`${LBC}-healthcheck-protocol`]: "http",
      [`${LBC}-healthcheck-port`]: String(DEFAULT_PORTS.http),
      [`${LBC}-healthcheck-path`]: HTTP_PATHS.readyz,
    });
  });

  it("admits the metrics port from the health-check CIDRs, and the ZeroMQ ports only from clients", () => {
    const ingress = ingressOf(prod, "zeroplane-default");
    const healthRule = ingress.find((rule) =>
      rule.from?.some((peer) => peer.ipBlock?.cidr === "10.30.0.0/16"),
    )!;
    expect(healthRule.ports).toEqual([{ protocol: "TCP", port: DEFAULT_PORTS.http }]);
    expect(healthRule.from).toEqual([{ ipBlock: { cidr: "10.30.0.0/16" } }]);
    const clientRule = ingress.find((rule) =>
      rule.from?.some((peer) => peer.ipBlock?.cidr === "203.0.113.0/24"),
    )!;
    expect(clientRule.ports!.map((p) => p.port)).toEqual([DEFAULT_PORTS.router, DEFAULT_PORTS.stream]);
  });

  it.each(["dev", "staging", "prod"] as const)("%s: passes lb-health-check-admitted", (env) => {
    expect(violationsOf("lb-health-check-admitted", synth(exampleSpec(env)).objects)).toEqual([]);
  });

  it("would fail lb-health-check-admitted without the health-check allow (the prod bug)", () => {
    const broken = structuredClone(prod);
    const policy = find(broken, "NetworkPolicy", "zeroplane-default");
    policy.spec.ingress = (policy.spec.ingress as IngressRule[]).filter(
      (rule) => !rule.from?.some((peer) => peer.ipBlock?.cidr === "10.30.0.0/16"),
    );
    const violations = violationsOf("lb-health-check-admitted", broken);
    expect(violations.map((v) => `${v.object?.kind}/${v.object?.name}`)).toEqual([
      "Service/zeroplane-default-public",
    ]);
    expect(violations[0]!.message).toContain(`pod port ${DEFAULT_PORTS.http}`);
  });

  it("is refused without healthCheckCidrs, naming the prop and the fix", () => {
    const spec = minimalSpec({
      agentServers: [{ name: "default", exposure: { type: "nlb", sourceRanges: ["10.0.0.0/8"] } }],
    });
    expect(() => synth(spec)).toThrow(
      /agentServers\[default\]\.exposure\.healthCheckCidrs: is empty; the NLB health-checks pods from its VPC addresses.*Fix: list the VPC CIDR/,
    );
    const badCidr = minimalSpec({
      agentServers: [
        {
          name: "default",
          exposure: { type: "nlb", sourceRanges: ["10.0.0.0/8"], healthCheckCidrs: ["10.0.0.0"] },
        },
      ],
    });
    expect(() => synth(badCidr)).toThrow(/healthCheckCidrs\[0\]: is not a CIDR; got "10\.0\.0\.0"/);
  });
});
