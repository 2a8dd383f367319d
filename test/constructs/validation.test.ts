/**
 * Every validation error path: bad props throw early with a message that names the prop, quotes the
 * bad value and says how to fix it.
 */
import { App, Chart } from "cdk8s";
import { describe, expect, it } from "vitest";
import { AgentServer } from "../../constructs/agent-server.js";
import { ConstructPropsError } from "../../constructs/common.js";
import type {
  AgentServerGroupSpec,
  NatsClusterSpec,
  ZeroplanePlatformProps,
} from "../../constructs/platform.js";
import { minimalSpec, synth } from "./fixtures.js";
import { thrown } from "../support/thrown.js";

interface Case {
  readonly name: string;
  readonly spec: ZeroplanePlatformProps;
  /** The prop path the message must name. */
  readonly prop: string;
  /** The bad value, as the message quotes it (JSON). */
  readonly value: unknown;
  /** A word of the problem description. */
  readonly problem: RegExp;
}

const group = (overrides: Partial<AgentServerGroupSpec>): ZeroplanePlatformProps =>
  minimalSpec({ agentServers: [{ name: "default", ...overrides }] });
const nats = (overrides: Partial<NatsClusterSpec>): ZeroplanePlatformProps =>
  minimalSpec({ nats: { replicas: 3, ...overrides } });
// Deliberately ill-typed specs, as a JavaScript caller or a YAML file could pass them.
const loose = (spec: unknown): ZeroplanePlatformProps => spec as ZeroplanePlatformProps;
const nlb = { type: "nlb" as const, sourceRanges: ["10.0.0.0/8"] };
const resources = { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "1", memory: "1Gi" } };

const cases: Case[] = [
  // Platform
  {
    name: "a namespace that is not a DNS label",
    spec: minimalSpec({ namespace: "Zero_Plane" }),
    prop: "namespace",
    value: "Zero_Plane",
    problem: /DNS label/,
  },
  {
    name: "the default namespace",
    spec: minimalSpec({ namespace: "default" }),
    prop: "namespace",
    value: "default",
    problem: /shared/,
  },
  {
    name: "a kube- namespace",
    spec: minimalSpec({ namespace: "kube-system" }),
    prop: "namespace",
    value: "kube-system",
    problem: /shared/,
  },
  {
    name: "a platform name that is too long",
    spec: minimalSpec({ name: "z".repeat(31) }),
    prop: "name",
    value: "z".repeat(31),
    problem: /at most 30/,
  },
  {
    name: "a bad label value",
    spec: minimalSpec({ labels: { team: "a b" } }),
    prop: "labels.team",
    value: "a b",
    problem: /label value/,
  },
  {
    name: "no agent-server groups",
    spec: minimalSpec({ agentServers: [] }),
    prop: "agentServers",
    value: [],
    problem: /empty/,
  },
  {
    name: "two groups with one name",
    spec: minimalSpec({ agentServers: [{ name: "a" }, { name: "a" }] }),
    prop: "agentServers",
    value: "a",
    problem: /same name/,
  },
  {
    name: "CURVE on without an allowlist",
    spec: minimalSpec({ allowlist: undefined }),
    prop: "allowlist",
    value: undefined,
    problem: /allowlist is missing|missing/,
  },
  {
    name: "a client selector with a bad label",
    spec: minimalSpec({ networkPolicy: { clients: [{ podLabels: { app: "-x" } }] } }),
    prop: "networkPolicy.clients[0].podLabels.app",
    value: "-x",
    problem: /label value/,
  },
  {
    name: "a bad API server CIDR",
    spec: minimalSpec({ networkPolicy: { apiServerCidrs: ["10.0.0.0"] } }),
    prop: "networkPolicy.apiServerCidrs[0]",
    value: "10.0.0.0",
    problem: /CIDR/,
  },
  {
    name: "generated keys without the API server's CIDR (the keygen Job's egress)",
    spec: minimalSpec({ networkPolicy: {} }),
    prop: "networkPolicy.apiServerCidrs",
    value: undefined,
    problem: /required with curve mode 'generated'.*any address/,
  },
  {
    name: "generated keys with an empty API server CIDR list (a peerless rule admits everything)",
    spec: minimalSpec({ networkPolicy: { apiServerCidrs: [] } }),
    prop: "networkPolicy.apiServerCidrs",
    value: [],
    problem: /at least one CIDR \(an egress rule without peers admits every address\)/,
  },
  {
    name: "a bad agent egress CIDR",
    spec: minimalSpec({ networkPolicy: { agentEgressCidrs: ["300.0.0.0/8"] } }),
    prop: "networkPolicy.agentEgressCidrs[0]",
    value: "300.0.0.0/8",
    problem: /CIDR/,
  },
  {
    name: "a bad agent egress port",
    spec: minimalSpec({ networkPolicy: { agentEgressPorts: [70000] } }),
    prop: "networkPolicy.agentEgressPorts[0]",
    value: 70000,
    problem: /TCP port/,
  },
  {
    name: "an unknown scrape kind",
    spec: loose(minimalSpec({ monitoring: loose({ enabled: true, scrapeKind: "Probe" }) as never })),
    prop: "monitoring.scrapeKind",
    value: "Probe",
    problem: /monitor kind/,
  },
  {
    name: "a bad monitoring selector label",
    spec: minimalSpec({ monitoring: { enabled: true, selectorLabels: { release: "a/b" } } }),
    prop: "monitoring.selectorLabels.release",
    value: "a/b",
    problem: /label value/,
  },
  // Image
  {
    name: "an image with neither tag nor digest",
    spec: minimalSpec({ image: { repository: "r/zeroplane" } }),
    prop: "image",
    value: {},
    problem: /exactly one of tag or digest/,
  },
  {
    name: "an image with both tag and digest",
    spec: minimalSpec({ image: { repository: "r/z", tag: "1", digest: `sha256:${"a".repeat(64)}` } }),
    prop: "image",
    value: { tag: "1", digest: `sha256:${"a".repeat(64)}` },
    problem: /exactly one/,
  },
  {
    name: "the latest tag",
    spec: minimalSpec({ image: { repository: "r/z", tag: "latest" } }),
    prop: "image.tag",
    value: "latest",
    problem: /pinned/,
  },
  {
    name: "a malformed digest",
    spec: minimalSpec({ image: { repository: "r/z", digest: "sha256:abc" } }),
    prop: "image.digest",
    value: "sha256:abc",
    problem: /sha256 digest/,
  },
  {
    name: "a repository with a tag in it",
    spec: minimalSpec({ image: { repository: "R/Z:1", tag: "1" } }),
    prop: "image.repository",
    value: "R/Z:1",
    problem: /repository/,
  },
  // Agent-server groups
  {
    name: "a group name that is not a DNS label",
    spec: group({ name: "Big_Group" }),
    prop: "agentServers[Big_Group].name",
    value: "Big_Group",
    problem: /DNS label/,
  },
  {
    name: "a group whose object name is too long",
    spec: minimalSpec({ name: "z".repeat(30), agentServers: [{ name: "g".repeat(30) }] }),
    prop: `agentServers[${"g".repeat(30)}] (object name`,
    value: `${"z".repeat(30)}-${"g".repeat(30)}`,
    problem: /at most 52/,
  },
  {
    name: "replicas together with autoscaling",
    spec: group({ replicas: 3, autoscaling: { minReplicas: 2, maxReplicas: 4 } }),
    prop: "agentServers[default].replicas",
    value: 3,
    problem: /HPA-managed/,
  },
  {
    name: "zero replicas",
    spec: group({ replicas: 0 }),
    prop: "agentServers[default].replicas",
    value: 0,
    problem: /at least 1/,
  },
  {
    name: "fractional maxAgents",
    spec: group({ maxAgents: 2.5 }),
    prop: "agentServers[default].maxAgents",
    value: 2.5,
    problem: /whole number/,
  },
  {
    name: "a negative shutdown grace",
    spec: group({ shutdownGraceMs: -1 }),
    prop: "agentServers[default].shutdownGraceMs",
    value: -1,
    problem: /whole number/,
  },
  {
    name: "a negative minAvailable",
    spec: group({ minAvailable: -1 }),
    prop: "agentServers[default].minAvailable",
    value: -1,
    problem: /at least 0/,
  },
  {
    name: "minAvailable above the replica count",
    spec: group({ replicas: 2, minAvailable: 3 }),
    prop: "agentServers[default].minAvailable",
    value: 3,
    problem: /replica count/,
  },
  {
    name: "minAvailable above the HPA minimum",
    spec: group({ autoscaling: { minReplicas: 2, maxReplicas: 5 }, minAvailable: 3 }),
    prop: "agentServers[default].minAvailable",
    value: 3,
    problem: /HPA's minReplicas/,
  },
  {
    name: "a request above its limit",
    spec: group({ resources: { ...resources, requests: { cpu: "2", memory: "1Gi" } } }),
    prop: "agentServers[default].resources.requests.cpu",
    value: "2",
    problem: /more than the limit/,
  },
  {
    name: "a malformed quantity",
    spec: group({ resources: { ...resources, limits: { cpu: "1", memory: "1GB" } } }),
    prop: "agentServers[default].resources.limits.memory",
    value: "1GB",
    problem: /quantity/,
  },
  {
    name: "a malformed ephemeral storage",
    spec: group({ resources: { ...resources, ephemeralStorage: "lots" } }),
    prop: "agentServers[default].resources.ephemeralStorage",
    value: "lots",
    problem: /quantity/,
  },
  {
    name: "a malformed state size",
    spec: group({ stateSize: "1 Gi" }),
    prop: "agentServers[default].stateSize",
    value: "1 Gi",
    problem: /quantity/,
  },
  {
    name: "a bad pod label",
    spec: group({ podLabels: { cost: "x".repeat(64) } }),
    prop: "agentServers[default].podLabels.cost",
    value: "x".repeat(64),
    problem: /label value/,
  },
  // Autoscaling
  {
    name: "an HPA minimum of zero",
    spec: group({ autoscaling: { minReplicas: 0, maxReplicas: 3 } }),
    prop: "agentServers[default].autoscaling.minReplicas",
    value: 0,
    problem: /at least 1/,
  },
  {
    name: "an HPA maximum not above the minimum",
    spec: group({ autoscaling: { minReplicas: 3, maxReplicas: 3 } }),
    prop: "agentServers[default].autoscaling.maxReplicas",
    value: 3,
    problem: /greater than minReplicas/,
  },
  {
    name: "a CPU target over 100%",
    spec: group({ autoscaling: { minReplicas: 2, maxReplicas: 3, cpuUtilization: 150 } }),
    prop: "agentServers[default].autoscaling.cpuUtilization",
    value: 150,
    problem: /percentage/,
  },
  {
    name: "a memory target under 10%",
    spec: group({ autoscaling: { minReplicas: 2, maxReplicas: 3, memoryUtilization: 5 } }),
    prop: "agentServers[default].autoscaling.memoryUtilization",
    value: 5,
    problem: /percentage/,
  },
  {
    name: "an active-agents target above maxAgents",
    spec: group({ maxAgents: 50, autoscaling: { minReplicas: 2, maxReplicas: 3, activeAgentsPerPod: 60 } }),
    prop: "agentServers[default].autoscaling.activeAgentsPerPod",
    value: 60,
    problem: /more than maxAgents \(50\)/,
  },
  {
    name: "a fractional active-agents target",
    spec: group({ autoscaling: { minReplicas: 2, maxReplicas: 3, activeAgentsPerPod: 0.5 } }),
    prop: "agentServers[default].autoscaling.activeAgentsPerPod",
    value: 0.5,
    problem: /whole number/,
  },
  {
    name: "a scale-down window over an hour",
    spec: group({ autoscaling: { minReplicas: 2, maxReplicas: 3, scaleDownStabilizationSeconds: 7200 } }),
    prop: "agentServers[default].autoscaling.scaleDownStabilizationSeconds",
    value: 7200,
    problem: /0 to 3600/,
  },
  // Exposure
  {
    name: "an unknown exposure type",
    spec: group({ exposure: loose({ type: "alb" }) as never }),
    prop: "agentServers[default].exposure.type",
    value: "alb",
    problem: /exposure type/,
  },
  {
    name: "an NLB while CURVE is off",
    spec: minimalSpec({
      curve: { mode: "off", acceptPlaintext: true },
      allowlist: undefined,
      agentServers: [{ name: "default", exposure: nlb }],
    }),
    prop: "agentServers[default].exposure.type",
    value: "nlb",
    problem: /CURVE is off/,
  },
  {
    name: "an unknown NLB scheme",
    spec: group({ exposure: loose({ ...nlb, scheme: "public" }) as never }),
    prop: "agentServers[default].exposure.scheme",
    value: "public",
    problem: /scheme/,
  },
  {
    name: "an NLB without source ranges",
    spec: group({ exposure: { type: "nlb", sourceRanges: [] } }),
    prop: "agentServers[default].exposure.sourceRanges",
    value: [],
    problem: /empty/,
  },
  {
    name: "an NLB with a malformed range",
    spec: group({ exposure: { type: "nlb", sourceRanges: ["10.0.0.0/33"] } }),
    prop: "agentServers[default].exposure.sourceRanges[0]",
    value: "10.0.0.0/33",
    problem: /CIDR/,
  },
  {
    name: "an internet-facing NLB open to everyone",
    spec: group({ exposure: { type: "nlb", scheme: "internet-facing", sourceRanges: ["0.0.0.0/0"] } }),
    prop: "agentServers[default].exposure.sourceRanges",
    value: "0.0.0.0/0",
    problem: /whole internet/,
  },
  // NATS
  {
    name: "zero NATS servers",
    spec: nats({ replicas: 0 }),
    prop: "nats.replicas",
    value: 0,
    problem: /at least 1/,
  },
  {
    name: "two JetStream servers",
    spec: nats({ replicas: 2 }),
    prop: "nats.replicas",
    value: 2,
    problem: /odd number/,
  },
  {
    name: "four JetStream servers",
    spec: nats({ replicas: 4 }),
    prop: "nats.replicas",
    value: 4,
    problem: /odd number/,
  },
  {
    name: "a JetStream store under 1Gi",
    spec: nats({ jetstream: { storageSize: "512Mi" } }),
    prop: "nats.jetstream.storageSize",
    value: "512Mi",
    problem: /below 1Gi/,
  },
  {
    name: "a malformed JetStream size",
    spec: nats({ jetstream: { storageSize: "ten gigs" } }),
    prop: "nats.jetstream.storageSize",
    value: "ten gigs",
    problem: /quantity/,
  },
  {
    name: "a malformed memory store size",
    spec: nats({ jetstream: { storageSize: "10Gi", memoryStoreSize: "x" } }),
    prop: "nats.jetstream.memoryStoreSize",
    value: "x",
    problem: /quantity/,
  },
  {
    name: "a bad storage class name",
    spec: nats({ jetstream: { storageSize: "10Gi", storageClassName: "GP3" } }),
    prop: "nats.jetstream.storageClassName",
    value: "GP3",
    problem: /DNS label/,
  },
  {
    name: "too little NATS memory",
    spec: nats({ resources: { cpu: "1", memory: "64Mi" } }),
    prop: "nats.resources.memory",
    value: "64Mi",
    problem: /below 128Mi/,
  },
  {
    name: "a malformed NATS CPU",
    spec: nats({ resources: { cpu: "one", memory: "1Gi" } }),
    prop: "nats.resources.cpu",
    value: "one",
    problem: /quantity/,
  },
  {
    name: "a bad auth Secret name",
    spec: nats({ auth: { secretName: "Auth!" } }),
    prop: "nats.auth.secretName",
    value: "Auth!",
    problem: /DNS label/,
  },
  {
    name: "a bad TLS Secret name",
    spec: nats({ tls: { client: { secretName: "TLS" } } }),
    prop: "nats.tls.client.secretName",
    value: "TLS",
    problem: /DNS label/,
  },
  {
    name: "client TLS that requires certificates the agent servers do not have",
    spec: nats({ tls: { client: { secretName: "nats-tls", verify: true } } }),
    prop: "nats.tls.client.verify",
    value: true,
    problem: /no client certificate/,
  },
  {
    name: "a malformed leaf node URL",
    spec: nats({ leafnodeRemotes: [{ url: "http://hub" }], remoteCidrs: ["10.0.0.0/8"] }),
    prop: "nats.leafnodeRemotes[0].url",
    value: "http://hub",
    problem: /leaf node URL/,
  },
  {
    name: "a gateway named like this cluster",
    spec: nats({ gateways: [{ name: "zeroplane", urls: ["nats://gw:7222"] }], remoteCidrs: ["10.0.0.0/8"] }),
    prop: "nats.gateways[0].name",
    value: "zeroplane",
    problem: /own name/,
  },
  {
    name: "a gateway name that is not a DNS label",
    spec: nats({ gateways: [{ name: "EU", urls: ["nats://gw:7222"] }], remoteCidrs: ["10.0.0.0/8"] }),
    prop: "nats.gateways[0].name",
    value: "EU",
    problem: /DNS label/,
  },
  {
    name: "a gateway without URLs",
    spec: nats({ gateways: [{ name: "eu", urls: [] }], remoteCidrs: ["10.0.0.0/8"] }),
    prop: "nats.gateways[0].urls",
    value: [],
    problem: /URLs/,
  },
  {
    name: "remotes without remote CIDRs",
    spec: nats({ gateways: [{ name: "eu", urls: ["nats://gw:7222"] }] }),
    prop: "nats.remoteCidrs",
    value: undefined,
    problem: /block them/,
  },
  {
    name: "a malformed remote CIDR",
    spec: nats({ gateways: [{ name: "eu", urls: ["nats://gw:7222"] }], remoteCidrs: ["10.0.0.1"] }),
    prop: "nats.remoteCidrs[0]",
    value: "10.0.0.1",
    problem: /CIDR/,
  },
  // CURVE keys and allowlist
  {
    name: "CURVE off without the acknowledgement",
    spec: minimalSpec({ curve: loose({ mode: "off" }) as never, allowlist: undefined }),
    prop: "curve.acceptPlaintext",
    value: undefined,
    problem: /plaintext/,
  },
  {
    name: "an unknown CURVE mode",
    spec: minimalSpec({ curve: loose({ mode: "vault" }) as never }),
    prop: "curve.mode",
    value: "vault",
    problem: /CURVE key mode/,
  },
  {
    name: "a bad existing Secret name",
    spec: minimalSpec({ curve: { mode: "existing", secretName: "My Secret" } }),
    prop: "curve.secretName",
    value: "My Secret",
    problem: /DNS label/,
  },
  {
    name: "a malformed published public key",
    spec: minimalSpec({ curve: { mode: "existing", secretName: "k", publicKey: "short" } }),
    prop: "curve.publicKey",
    value: "short",
    problem: /Z85/,
  },
  {
    name: "a bad secret store name",
    spec: minimalSpec({ curve: { mode: "external", secretStoreRef: { name: "" }, remoteKey: "k" } }),
    prop: "curve.secretStoreRef.name",
    value: "",
    problem: /DNS label/,
  },
  {
    name: "an empty remote key",
    spec: minimalSpec({ curve: { mode: "external", secretStoreRef: { name: "aws" }, remoteKey: "" } }),
    prop: "curve.remoteKey",
    value: "",
    problem: /empty/,
  },
  {
    name: "a malformed refresh interval",
    spec: minimalSpec({
      curve: { mode: "external", secretStoreRef: { name: "aws" }, remoteKey: "k", refreshInterval: "hourly" },
    }),
    prop: "curve.refreshInterval",
    value: "hourly",
    problem: /duration/,
  },
  {
    name: "a keygen command without {dir}",
    spec: minimalSpec({ curve: { mode: "generated", keygenCommand: ["zeroplane", "keygen"] } }),
    prop: "curve.keygenCommand",
    value: ["zeroplane", "keygen"],
    problem: /where to write/,
  },
  {
    name: "a keygen command with an empty part",
    spec: minimalSpec({ curve: { mode: "generated", keygenCommand: ["zeroplane", "", "{dir}"] } }),
    prop: "curve.keygenCommand[1]",
    value: "",
    problem: /empty/,
  },
  {
    name: "an empty allowlist",
    spec: minimalSpec({ allowlist: { source: "publicKeys", publicKeys: [] } }),
    prop: "allowlist.publicKeys",
    value: [],
    problem: /empty/,
  },
  {
    name: "a malformed allowlisted key",
    spec: minimalSpec({ allowlist: { source: "publicKeys", publicKeys: ["abc"] } }),
    prop: "allowlist.publicKeys[0]",
    value: "abc",
    problem: /Z85/,
  },
  {
    name: "a bad allowlist ConfigMap name",
    spec: minimalSpec({ allowlist: { source: "configMap", name: "Clients" } }),
    prop: "allowlist.name",
    value: "Clients",
    problem: /DNS label/,
  },
  {
    name: "an unknown allowlist source",
    spec: minimalSpec({ allowlist: loose({ source: "s3", name: "x" }) as never }),
    prop: "allowlist.source",
    value: "s3",
    problem: /allowlist source/,
  },
];

describe("validation", () => {
  it.each(cases)(
    "refuses $name, naming the prop, the value and the fix",
    ({ spec, prop, value, problem }) => {
      const caught = thrown(() => synth(spec));
      expect(caught).toBeInstanceOf(ConstructPropsError);
      const error = caught as ConstructPropsError;
      expect(error.message.startsWith(prop)).toBe(true);
      expect(error.message).toMatch(problem);
      expect(error.message).toContain(`got ${JSON.stringify(value)}`);
      expect(error.message).toMatch(/\. Fix: \S.+/);
    },
  );

  it("refuses an agent server built directly without CURVE and without the plaintext acknowledgement", () => {
    const chart = new Chart(new App(), "c");
    expect(
      () =>
        new AgentServer(chart, "s", {
          name: "default",
          namespace: "zp",
          resourceName: "zp-default",
          platformName: "zp",
          image: "r/z:1",
        }),
    ).toThrow(/agentServers\[default\]: has no CURVE secret.*got undefined\. Fix: set curve/);
  });

  it.each([
    // Found by the spec's schema: the zod path, the group addressed by name instead of its index.
    {
      spec: minimalSpec({
        agentServers: [{ name: "a" }, { name: "b", autoscaling: { minReplicas: 3, maxReplicas: 2 } }],
      }),
      path: ["agentServers", "b", "autoscaling", "maxReplicas"],
    },
    {
      spec: minimalSpec({ networkPolicy: { apiServerCidrs: ["10.0.0.0/8", "x"] } }),
      path: ["networkPolicy", "apiServerCidrs", 1],
    },
    // Found by a construct (it needs the replica count the construct derives).
    { spec: group({ replicas: 2, minAvailable: 3 }), path: ["agentServers", "default", "minAvailable"] },
  ])("carries the path of the prop at fault as a list, groups by name: $path", ({ spec, path }) => {
    const error = thrown(() => synth(spec)) as ConstructPropsError;
    expect(error).toBeInstanceOf(ConstructPropsError);
    expect(error.path).toEqual(path);
  });

  it("accepts every boundary value just inside the limits", () => {
    const ok = minimalSpec({
      name: "z".repeat(30),
      agentServers: [
        {
          name: "g".repeat(21),
          autoscaling: {
            minReplicas: 1,
            maxReplicas: 2,
            cpuUtilization: 100,
            memoryUtilization: 10,
            activeAgentsPerPod: 100,
          },
          maxAgents: 100,
          minAvailable: 1,
          exposure: {
            type: "nlb",
            scheme: "internet-facing",
            sourceRanges: ["203.0.113.7/32", "2001:db8::/32"],
            healthCheckCidrs: ["10.0.0.0/16"],
          },
        },
      ],
      nats: { replicas: 1, jetstream: { storageSize: "1Gi" }, resources: { cpu: "100m", memory: "128Mi" } },
    });
    expect(() => synth(ok)).not.toThrow();
  });
});
