/**
 * Example environment specs: a development one (1 NATS server, generated keys), a staging one and a
 * production one (3 NATS servers, HPA, NLB, keys from AWS Secrets Manager). The tests prove every
 * object of each against the strict schemas; the benchmark synthesizes them; stacks may start from them.
 */
import type { ZeroplanePlatformProps } from "./platform.js";

/** Placeholder digests: replace them with the digests of the images you pushed. */
const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`;
const NATS_DIGEST = `sha256:${"fedcba9876543210".repeat(4)}`;
const EXPORTER_DIGEST = `sha256:${"0f1e2d3c4b5a6978".repeat(4)}`;
/** Public keys of example clients (Z85, 40 characters). Public keys are not secrets. */
const CLIENT_KEYS = ["rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"];

export const EXAMPLE_ENVIRONMENTS = {
  dev: {
    namespace: "zeroplane-dev",
    image: { repository: "localhost/zeroplane", tag: "0.1.0" },
    agentServers: [{ name: "default", replicas: 1, maxAgents: 20 }],
    nats: { replicas: 1, jetstream: { storageSize: "2Gi" }, resources: { cpu: "250m", memory: "512Mi" } },
    curve: { mode: "generated" },
    allowlist: { source: "publicKeys", publicKeys: CLIENT_KEYS },
    networkPolicy: { clients: [{ podLabels: { "zeroplane.io/client": "true" } }] },
    monitoring: { enabled: false },
  },
  staging: {
    namespace: "zeroplane-staging",
    image: { repository: "registry.example/zeroplane", digest: DIGEST },
    agentServers: [
      { name: "default", replicas: 2, maxAgents: 50 },
      { name: "batch", workload: "StatefulSet", replicas: 2, maxAgents: 20, stateSize: "5Gi" },
    ],
    nats: { replicas: 3, jetstream: { storageSize: "10Gi" }, auth: { secretName: "zeroplane-nats-auth" } },
    curve: { mode: "existing", secretName: "zeroplane-curve", publicKey: CLIENT_KEYS[0]! },
    allowlist: { source: "configMap", name: "zeroplane-clients" },
    networkPolicy: {
      clients: [{ namespaceLabels: { "kubernetes.io/metadata.name": "agents-staging" } }],
      agentEgressCidrs: ["10.40.0.0/16"],
    },
    monitoring: {
      enabled: true,
      scrapeKind: "PodMonitor",
      selectorLabels: { release: "kube-prometheus-stack" },
    },
  },
  prod: {
    namespace: "zeroplane-prod",
    image: { repository: "registry.example/zeroplane", digest: DIGEST },
    agentServers: [
      {
        name: "default",
        autoscaling: { minReplicas: 3, maxReplicas: 12, activeAgentsPerPod: 80 },
        maxAgents: 100,
        minAvailable: 2,
        resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "2", memory: "4Gi" } },
        exposure: {
          type: "nlb",
          scheme: "internet-facing",
          sourceRanges: ["203.0.113.0/24", "198.51.100.0/24"],
          healthCheckCidrs: ["10.30.0.0/16"],
        },
      },
      {
        name: "internal",
        autoscaling: { minReplicas: 2, maxReplicas: 6 },
        // Long-running agents: a rollout or scale-down lets them finish for up to 4 minutes.
        agentDrainMs: 240_000,
        exposure: { type: "nlb", sourceRanges: ["10.0.0.0/8"], healthCheckCidrs: ["10.30.0.0/16"] },
      },
    ],
    nats: {
      replicas: 3,
      image: { repository: "registry.example/nats", digest: NATS_DIGEST },
      exporterImage: { repository: "registry.example/prometheus-nats-exporter", digest: EXPORTER_DIGEST },
      jetstream: { storageSize: "50Gi", storageClassName: "gp3" },
      resources: { cpu: "1", memory: "4Gi" },
      auth: { secretName: "zeroplane-nats-auth" },
      tls: {
        client: { secretName: "zeroplane-nats-client-tls" },
        cluster: { secretName: "zeroplane-nats-cluster-tls" },
      },
    },
    curve: {
      mode: "external",
      secretStoreRef: { name: "aws-secrets-manager", kind: "ClusterSecretStore" },
      remoteKey: "zeroplane/prod/curve",
    },
    allowlist: { source: "secret", name: "zeroplane-clients" },
    networkPolicy: {
      clients: [
        { namespaceLabels: { "zeroplane.io/clients": "true" }, podLabels: { "zeroplane.io/client": "true" } },
      ],
      apiServerCidrs: ["10.0.0.0/16"],
    },
    monitoring: { enabled: true, selectorLabels: { release: "kube-prometheus-stack" } },
    labels: { "app.kubernetes.io/version": "0.1.0" },
  },
} satisfies Record<string, ZeroplanePlatformProps>;

export type ExampleEnvironment = keyof typeof EXAMPLE_ENVIRONMENTS;

/** One example spec, typed. */
export function exampleSpec(env: ExampleEnvironment): ZeroplanePlatformProps {
  return EXAMPLE_ENVIRONMENTS[env];
}
