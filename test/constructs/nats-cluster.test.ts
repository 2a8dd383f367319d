/**
 * NatsCluster: on par with the official Helm chart (Parallel StatefulSet, headless Service with
 * publishNotReadyAddresses, lame duck, health probes, GOMEMLIMIT, PDB) and past it (credentials from
 * Secrets only, Pod Security restricted, a NetworkPolicy). The real-server proof is in nats-server.test.ts.
 */
import { describe, expect, it } from "vitest";
import { JETSTREAM_STORE_SHARE, jetstreamLimits } from "../../constructs/nats-cluster.js";
import { renderNatsConfig } from "../../constructs/nats-config.js";
import { ENV_VARS } from "../../runtime/config/index.js";
import { validateObjects } from "../support/k8s-schema.js";
import { podSecurityViolations } from "../support/pod-security.js";
import { exampleSpec, expectObjectsSnapshot, find, minimalSpec, ofKind, synth } from "./fixtures.js";

const prod = synth(exampleSpec("prod")).objects;
const sts = find(prod, "StatefulSet", "zeroplane-nats");
const nats = sts.spec.template.spec.containers[0];

describe("NatsCluster", () => {
  it("matches the snapshot of its objects (staging)", () => {
    const staging = synth(exampleSpec("staging")).objects;
    expectObjectsSnapshot(staging, (object) => object.metadata.name.startsWith("zeroplane-nats"), [
      "ServiceAccount/zeroplane-nats",
      "ConfigMap/zeroplane-nats-config",
      "Service/zeroplane-nats",
      "Service/zeroplane-nats-headless",
      "StatefulSet/zeroplane-nats",
      "PodDisruptionBudget/zeroplane-nats",
      "NetworkPolicy/zeroplane-nats",
      "PodMonitor/zeroplane-nats",
    ]);
  });

  it("starts servers in parallel behind a headless Service that publishes not-ready addresses", () => {
    expect(sts.spec.podManagementPolicy).toBe("Parallel");
    const headless = find(prod, "Service", "zeroplane-nats-headless");
    expect(headless.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
    expect(sts.spec.serviceName).toBe("zeroplane-nats-headless");
    expect(find(prod, "Service", "zeroplane-nats").spec.ports).toEqual([
      { name: "nats", port: 4222, protocol: "TCP", targetPort: "nats" },
    ]);
  });

  it("names each server after its pod and routes through the headless Service's DNS names", () => {
    const conf = find(prod, "ConfigMap", "zeroplane-nats-config").data!["nats.conf"]!;
    expect(conf).toContain("server_name: $POD_NAME");
    for (const i of [0, 1, 2]) {
      expect(conf).toContain(
        `"nats://zeroplane-nats-${i}.zeroplane-nats-headless.zeroplane-prod.svc.cluster.local:6222"`,
      );
    }
    expect(nats.env[0]).toEqual({
      name: "POD_NAME",
      valueFrom: { fieldRef: { fieldPath: "metadata.name" } },
    });
  });

  it("sizes the JetStream file store below the PVC size, with headroom, and the stream below that", () => {
    const conf = find(prod, "ConfigMap", "zeroplane-nats-config").data!["nats.conf"]!;
    const volume = 50 * 1024 ** 3;
    expect(conf).toContain(`max_file_store: ${Math.floor(volume * JETSTREAM_STORE_SHARE)}`);
    expect(JETSTREAM_STORE_SHARE).toBeLessThan(0.9);
    const server = find(prod, "Deployment", "zeroplane-default").spec.template.spec.containers[0];
    const streamLimit = (server.env as { name: string; value?: string }[]).find(
      (e) => e.name === ENV_VARS["nats.maxBytes"],
    )!.value;
    expect(Number(streamLimit)).toBe(jetstreamLimits(volume).streamMaxBytes);
    expect(Number(streamLimit)).toBeLessThan(volume * JETSTREAM_STORE_SHARE);
    expect(sts.spec.volumeClaimTemplates[0].spec).toMatchObject({
      storageClassName: "gp3",
      resources: { requests: { storage: "50Gi" } },
    });
    expect(nats.volumeMounts).toContainEqual({ name: "jetstream", mountPath: "/data" });
  });

  it("drains in lame duck mode before SIGTERM", () => {
    const conf = find(prod, "ConfigMap", "zeroplane-nats-config").data!["nats.conf"]!;
    expect(conf).toMatch(/lame_duck_duration: "30s"/);
    expect(conf).toMatch(/lame_duck_grace_period: "10s"/);
    expect(nats.lifecycle.preStop.exec.command).toEqual([
      "nats-server",
      "--signal",
      "ldm=/var/run/nats/nats.pid",
    ]);
    expect(sts.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(30 + 10);
  });

  it("probes /healthz: full check at startup, js-server-only for readiness, js-enabled-only for liveness", () => {
    expect(nats.startupProbe.httpGet.path).toBe("/healthz");
    expect(nats.readinessProbe.httpGet.path).toBe("/healthz?js-server-only=true");
    expect(nats.livenessProbe.httpGet.path).toBe("/healthz?js-enabled-only=true");
  });

  it("sets requests equal to limits and GOMEMLIMIT at 80% of the memory limit", () => {
    expect(nats.resources.requests).toEqual(nats.resources.limits);
    const gomemlimit = nats.env.find((entry: { name: string }) => entry.name === "GOMEMLIMIT");
    expect(gomemlimit.value).toBe(`${Math.floor(4096 * 0.8)}MiB`);
  });

  it("allows one server down at a time and spreads servers across zones and nodes", () => {
    expect(find(prod, "PodDisruptionBudget", "zeroplane-nats").spec.maxUnavailable).toBe(1);
    expect(sts.spec.template.spec.topologySpreadConstraints).toHaveLength(2);
  });

  it("takes credentials only from the Secret, never from the ConfigMap", () => {
    const conf = find(prod, "ConfigMap", "zeroplane-nats-config").data!["nats.conf"]!;
    expect(conf).toMatch(/user: \$NATS_USER\n\s+password: \$NATS_PASSWORD/);
    const env = Object.fromEntries(nats.env.map((entry: { name: string }) => [entry.name, entry]));
    expect(env.NATS_SECRET_PASSWORD.valueFrom).toEqual({
      secretKeyRef: { name: "zeroplane-nats-auth", key: "password" },
    });
    expect(env.NATS_SECRET_USER.valueFrom).toEqual({
      secretKeyRef: { name: "zeroplane-nats-auth", key: "user" },
    });
    // Quoted, so nats-server reads a password like 123456 as a string (proven in nats-server.test.ts).
    expect(env.NATS_PASSWORD).toEqual({ name: "NATS_PASSWORD", value: '"$(NATS_SECRET_PASSWORD)"' });
    expect(env.NATS_USER).toEqual({ name: "NATS_USER", value: '"$(NATS_SECRET_USER)"' });
    const names = nats.env.map((entry: { name: string }) => entry.name);
    // The kubelet expands $(NAME) only from variables listed earlier.
    expect(names.indexOf("NATS_SECRET_PASSWORD")).toBeLessThan(names.indexOf("NATS_PASSWORD"));
  });

  it("mounts TLS for clients and routes from existing Secrets", () => {
    const conf = find(prod, "ConfigMap", "zeroplane-nats-config").data!["nats.conf"]!;
    expect(conf).toContain('cert_file: "/etc/nats-certs/client/tls.crt"');
    expect(conf).toMatch(/cluster \{[\s\S]*tls \{\n\s+cert_file: "\/etc\/nats-certs\/cluster\/tls.crt"/);
    const volumes = sts.spec.template.spec.volumes.map(
      (volume: { name: string; secret?: { secretName: string } }) => [volume.name, volume.secret?.secretName],
    );
    expect(volumes).toEqual(
      expect.arrayContaining([
        ["tls-client", "zeroplane-nats-client-tls"],
        ["tls-cluster", "zeroplane-nats-cluster-tls"],
      ]),
    );
    const server = find(prod, "Deployment", "zeroplane-default").spec.template.spec.containers[0];
    expect(server.env).toContainEqual({
      name: "ZEROPLANE_NATS_URLS",
      value: "tls://zeroplane-nats.zeroplane-prod.svc.cluster.local:4222",
    });
  });

  it("runs the Prometheus exporter as a restricted sidecar with a PodMonitor when monitoring is on", () => {
    const exporter = sts.spec.template.spec.containers[1];
    expect(exporter.name).toBe("exporter");
    expect(exporter.args).toContain("-jsz=all");
    expect(find(prod, "PodMonitor", "zeroplane-nats").spec.podMetricsEndpoints[0].port).toBe("prom-metrics");
    const dev = synth(exampleSpec("dev")).objects;
    expect(ofKind(dev, "PodMonitor")).toEqual([]);
  });

  it("limits ingress to agent servers on 4222 and to itself on 6222, and egress to routes and DNS", () => {
    const policy = find(prod, "NetworkPolicy", "zeroplane-nats");
    expect(policy.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    const [clients, routes] = policy.spec.ingress;
    expect(clients.ports).toEqual([{ protocol: "TCP", port: 4222 }]);
    expect(
      clients.from.map(
        (peer: { podSelector: { matchLabels: Record<string, string> } }) =>
          peer.podSelector.matchLabels["app.kubernetes.io/instance"],
      ),
    ).toEqual(["zeroplane-default", "zeroplane-internal"]);
    expect(routes.ports).toEqual([{ protocol: "TCP", port: 6222 }]);
    expect(policy.spec.egress[0].ports).toEqual([{ protocol: "TCP", port: 6222 }]);
    expect(policy.spec.egress[1].ports).toContainEqual({ protocol: "UDP", port: 53 });
  });

  it("adds leaf node remotes and gateways, with their credentials from Secrets and 7222 opened", () => {
    const spec = minimalSpec({
      nats: {
        replicas: 3,
        leafnodeRemotes: [{ url: "nats-leaf://hub.example.internal:7422", credentialsSecret: "hub-creds" }],
        gateways: [{ name: "eu-west-1", urls: ["nats://nats-gw.eu-west-1.example.internal:7222"] }],
        remoteCidrs: ["10.30.0.0/16"],
      },
    });
    const objects = synth(spec).objects;
    expect(validateObjects(objects)).toEqual([]);
    expect(podSecurityViolations(objects, "hardened")).toEqual([]);
    const conf = find(objects, "ConfigMap", "zeroplane-nats-config").data!["nats.conf"]!;
    expect(conf).toContain('url: "nats-leaf://hub.example.internal:7422"');
    expect(conf).toContain('credentials: "/etc/nats-leafnode/remote-0/creds"');
    expect(conf).toMatch(/gateway \{\n\s+name: "zeroplane"/);
    expect(conf).toContain('{ name: "eu-west-1", urls: ["nats://nats-gw.eu-west-1.example.internal:7222"] }');
    const policy = find(objects, "NetworkPolicy", "zeroplane-nats");
    const egressPorts = policy.spec.egress.flatMap((rule: { ports: { port: number }[] }) =>
      rule.ports.map((p) => p.port),
    );
    expect(egressPorts).toEqual(expect.arrayContaining([6222, 7222, 7422, 53]));
    expect(JSON.stringify(policy.spec.ingress)).toContain("10.30.0.0/16");
  });

  it("runs without JetStream when asked: no PVCs and plain /healthz probes", () => {
    const objects = synth(minimalSpec({ nats: { replicas: 2, jetstream: false } })).objects;
    const noJs = find(objects, "StatefulSet", "zeroplane-nats");
    expect(noJs.spec.volumeClaimTemplates).toBeUndefined();
    expect(noJs.spec.template.spec.containers[0].readinessProbe.httpGet.path).toBe("/healthz");
    expect(find(objects, "ConfigMap", "zeroplane-nats-config").data!["nats.conf"]).not.toContain("jetstream");
  });

  it("renders the same config text for the same options", () => {
    const options = { clusterName: "a", routes: ["nats://x:6222"], auth: true };
    expect(renderNatsConfig(options)).toBe(renderNatsConfig({ ...options }));
  });
});
