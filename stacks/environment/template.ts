/**
 * A new environment's `Pulumi.<env>.yaml` (`zeroplane init <env>`): working defaults for a
 * non-production environment, each key with a comment, checked by the one loader (parseEnvironment)
 * before it is returned, so a file this writes always loads.
 */
import { Document, isMap, isPair, isScalar, type Pair } from "yaml";
import { ALLOWLIST_KEY } from "../../runtime/config/names.js";
import { CONFIG_NAMESPACE, parseEnvironment } from "./load.js";

/** The defaults, keyed without the namespace, and the comment written above each key. */
function defaults(
  environment: string,
  version: string,
  clientKeys: readonly string[],
): Array<[string, unknown, string]> {
  const namespace = `zeroplane-${environment}`;
  return [
    [
      "namespace",
      namespace,
      "Kubernetes namespace of everything (created by the stack); not shared with other workloads.",
    ],
    [
      "image",
      { repository: "registry.example.com/zeroplane/runtime", tag: version },
      "The runtime image. Replace the repository with where `npm run image` pushes; pin a digest before production.",
    ],
    [
      "agentServers",
      {
        default: {
          replicas: 2,
          maxAgents: 50,
          logLevel: "info",
          resources: {
            requests: { cpu: "100m", memory: "256Mi" },
            limits: { cpu: "1", memory: "1Gi" },
            ephemeralStorage: "2Gi",
          },
          exposure: { type: "internal" },
        },
      },
      "Agent-server groups by name: replicas (or autoscaling), agent capacity, resources, how clients reach them.",
    ],
    [
      "nats",
      { replicas: 3, jetstream: { storageSize: "5Gi" }, resources: { cpu: "250m", memory: "512Mi" } },
      "NATS JetStream for lifecycle events: 3 replicas keep the stream (R3) through the loss of one node.",
    ],
    [
      "curve",
      { mode: "generated" },
      "The server's CURVE key: generated in the cluster here; production needs mode external or existing.",
    ],
    clientKeys.length > 0
      ? [
          "allowlist",
          { source: "publicKeys", publicKeys: [...clientKeys] },
          "Client public keys allowed in (public, safe to commit): each client's client.key from `zeroplane keygen --name client`.",
        ]
      : [
          "allowlist",
          { source: "secret", name: "zeroplane-clients" },
          `Client public keys allowed in, from a Secret you create (one key per line, reloaded on change): kubectl create secret generic zeroplane-clients --from-file=${ALLOWLIST_KEY}=keys/allowlist.txt -n ${namespace}`,
        ],
    [
      "networkPolicy",
      {
        clients: [{ namespaceLabels: { "kubernetes.io/metadata.name": namespace } }],
        apiServerCidrs: ["0.0.0.0/0"],
      },
      "Who may reach the agent servers (pods in these namespaces), and the keygen Job's only egress besides DNS (443/6443): narrow apiServerCidrs to your API endpoint (kubectl get endpoints kubernetes -n default).",
    ],
    [
      "monitoring",
      { enabled: false },
      "Prometheus Operator objects (ServiceMonitor, PrometheusRule): turn on where it runs.",
    ],
    ["labels", { "zeroplane.dev/environment": environment }, "Labels on every object."],
    [
      "aws",
      { enabled: false },
      "AWS resources (ECR, Secrets Manager, NLB security groups): off, plain Kubernetes.",
    ],
  ];
}

/**
 * The text of `Pulumi.<environment>.yaml`; the allowlist holds `clientKeys` (Z85 public keys) when
 * given, else names a Secret to create. Throws the loader's EnvironmentConfigError when the
 * name is not a DNS label.
 */
export function environmentTemplate(
  environment: string,
  version: string,
  clientKeys: readonly string[] = [],
): string {
  const entries = defaults(environment, version, clientKeys);
  // The loader sees exactly these values: what is written is what was checked.
  parseEnvironment(
    environment,
    Object.fromEntries(entries.map(([key, value]) => [key, value])),
    `Pulumi.${environment}.yaml`,
  );
  const document = new Document({
    config: Object.fromEntries(entries.map(([key, value]) => [`${CONFIG_NAMESPACE}:${key}`, value])),
  });
  document.commentBefore = [
    ` Environment ${environment}, written by \`zeroplane init ${environment}\`. Every key is described in`,
    " docs/stacks.md; the loader (stacks/environment/load.ts) checks them all. Change a value with e.g.",
    `   pulumi config set --path '${CONFIG_NAMESPACE}:agentServers.default.replicas' 3 --stack ${environment}`,
  ].join("\n");
  const config = document.get("config");
  if (!isMap(config)) throw new Error("the template has no config map");
  for (const item of config.items as Array<Pair<unknown, unknown>>) {
    if (!isPair(item) || !isScalar(item.key)) continue;
    const short = String(item.key.value).slice(CONFIG_NAMESPACE.length + 1);
    const comment = entries.find(([key]) => key === short)?.[2];
    if (comment) item.key.commentBefore = ` ${comment}`;
  }
  return document.toString({ lineWidth: 0 });
}
