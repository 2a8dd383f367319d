/**
 * Network policies: default deny for the whole namespace, then explicit allows, and every pod selected
 * by a policy with both Ingress and Egress.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_PORTS } from "../../runtime/config/index.js";
import { podTemplates } from "../support/pod-security.js";
import { exampleSpec, find, minimalSpec, ofKind, synth, type K8sObject } from "./fixtures.js";

type Rule = {
  from?: Record<string, unknown>[];
  to?: Record<string, unknown>[];
  ports?: { protocol: string; port: number }[];
};

const selects = (policy: K8sObject, labels: Record<string, string>): boolean =>
  Object.entries((policy.spec.podSelector.matchLabels ?? {}) as Record<string, string>).every(
    ([key, value]) => labels[key] === value,
  );

describe("network policies", () => {
  const prod = synth(exampleSpec("prod")).objects;

  it("deny all ingress and egress in the namespace by default", () => {
    const deny = find(prod, "NetworkPolicy", "zeroplane-default-deny");
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
  });

  it.each(["dev", "staging", "prod"] as const)(
    "%s: select every pod with a specific policy that covers Ingress and Egress",
    (env) => {
      const objects = synth(exampleSpec(env)).objects;
      const policies = ofKind(objects, "NetworkPolicy").filter(
        (p) => Object.keys(p.spec.podSelector).length > 0,
      );
      for (const object of objects) {
        for (const pod of podTemplates(object)) {
          const labels = ((object.spec.template ?? object.spec.jobTemplate.spec.template).metadata.labels ??
            {}) as Record<string, string>;
          const matching = policies.filter((policy) => selects(policy, labels));
          expect(matching.length, pod.where).toBeGreaterThanOrEqual(1);
          expect(matching.flatMap((p) => p.spec.policyTypes as string[]).sort(), pod.where).toEqual(
            expect.arrayContaining(["Egress", "Ingress"]),
          );
        }
      }
    },
  );

  it("allow configured clients and the load balancer's source ranges to the ROUTER and PUB ports", () => {
    const policy = find(prod, "NetworkPolicy", "zeroplane-default");
    const [clients] = policy.spec.ingress as Rule[];
    expect(clients!.ports).toEqual([
      { protocol: "TCP", port: DEFAULT_PORTS.router },
      { protocol: "TCP", port: DEFAULT_PORTS.stream },
    ]);
    expect(clients!.from).toEqual([
      {
        namespaceSelector: { matchLabels: { "zeroplane.io/clients": "true" } },
        podSelector: { matchLabels: { "zeroplane.io/client": "true" } },
      },
      { ipBlock: { cidr: "198.51.100.0/24" } },
      { ipBlock: { cidr: "203.0.113.0/24" } },
    ]);
  });

  it("allow Prometheus to the metrics port only", () => {
    const policy = find(prod, "NetworkPolicy", "zeroplane-default");
    const scrape = (policy.spec.ingress as Rule[])[1]!;
    expect(scrape.ports).toEqual([{ protocol: "TCP", port: DEFAULT_PORTS.http }]);
    expect(scrape.from).toEqual([
      {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
        podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } },
      },
    ]);
  });

  it("allow agent servers out to DNS and the NATS client port, and nothing else by default", () => {
    const egress = find(prod, "NetworkPolicy", "zeroplane-default").spec.egress as Rule[];
    expect(egress).toHaveLength(2);
    expect(egress[0]!.ports).toEqual([
      { protocol: "UDP", port: 53 },
      { protocol: "TCP", port: 53 },
    ]);
    expect(egress[1]).toEqual({
      to: [
        {
          podSelector: {
            matchLabels: { "app.kubernetes.io/instance": "zeroplane-nats", "app.kubernetes.io/name": "nats" },
          },
        },
      ],
      ports: [{ protocol: "TCP", port: 4222 }],
    });
  });

  it("open the configured egress for spawned agents", () => {
    const staging = synth(exampleSpec("staging")).objects;
    const egress = find(staging, "NetworkPolicy", "zeroplane-default").spec.egress as Rule[];
    expect(egress).toContainEqual({
      to: [{ ipBlock: { cidr: "10.40.0.0/16" } }],
      ports: [{ protocol: "TCP", port: 443 }],
    });
  });

  it("let the keygen Job reach only DNS and the API server's CIDRs from the spec", () => {
    const objects = synth(
      minimalSpec({ networkPolicy: { apiServerCidrs: ["172.20.0.0/16", "10.0.0.0/28"] } }),
    ).objects;
    const policy = find(objects, "NetworkPolicy", "zeroplane-keygen");
    expect(policy.spec.ingress).toBeUndefined();
    expect(policy.spec.egress).toHaveLength(2);
    expect(policy.spec.egress[1]).toEqual({
      to: [{ ipBlock: { cidr: "10.0.0.0/28" } }, { ipBlock: { cidr: "172.20.0.0/16" } }],
      ports: [
        { protocol: "TCP", port: 443 },
        { protocol: "TCP", port: 6443 },
      ],
    });
  });

  it("allow no client at all when none is configured and nothing is exposed", () => {
    const objects = synth(minimalSpec()).objects;
    expect(find(objects, "NetworkPolicy", "zeroplane-default").spec.ingress).toBeUndefined();
  });
});
