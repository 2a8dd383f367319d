/**
 * AgentServer: the workload, its Service(s), PDB, ServiceAccount and HPA, as the runtime expects them.
 */
import { describe, expect, it } from "vitest";
import {
  ALLOWLIST_KEY,
  CURVE_SECRET_KEYS,
  DEFAULT_PATHS,
  DEFAULT_PORTS,
  ENV_VARS,
  HTTP_PATHS,
  defaultConfig,
  loadConfig,
} from "../../runtime/config/index.js";
import { TERMINATION_MARGIN_SECONDS } from "../../constructs/agent-server.js";
import { NATS_AUTH_SECRET_KEYS } from "../../constructs/index.js";
import {
  exampleSpec,
  expectObjectsSnapshot,
  find,
  minimalSpec,
  ofKind,
  synth,
  type K8sObject,
} from "./fixtures.js";

const container = (workload: K8sObject) => workload.spec.template.spec.containers[0];
const envMap = (workload: K8sObject): Record<string, { value?: string; valueFrom?: unknown }> =>
  Object.fromEntries(
    (container(workload).env as { name: string; value?: string }[]).map((entry) => [entry.name, entry]),
  );

describe("AgentServer", () => {
  const dev = synth(exampleSpec("dev")).objects;
  const deployment = find(dev, "Deployment", "zeroplane-default");

  it("matches the snapshot of its objects (dev)", () => {
    expectObjectsSnapshot(dev, (object) => object.metadata.name === "zeroplane-default", [
      "ServiceAccount/zeroplane-default",
      "Deployment/zeroplane-default",
      "Service/zeroplane-default",
      "PodDisruptionBudget/zeroplane-default",
      "NetworkPolicy/zeroplane-default",
    ]);
  });

  it("takes every environment variable name from the runtime's config module", () => {
    const env = envMap(deployment);
    const known = new Set<string>(Object.values(ENV_VARS));
    for (const name of Object.keys(env)) expect(known.has(name), name).toBe(true);
    expect(env[ENV_VARS["server.bind"]]!.value).toBe(`tcp://0.0.0.0:${DEFAULT_PORTS.router}`);
    expect(env[ENV_VARS["server.publishBind"]]!.value).toBe(`tcp://0.0.0.0:${DEFAULT_PORTS.stream}`);
    expect(env[ENV_VARS["server.id"]]!.valueFrom).toEqual({ fieldRef: { fieldPath: "metadata.name" } });
    expect(env[ENV_VARS["security.curve"]]!.value).toBe("true");
    expect(env[ENV_VARS["security.secretKeyFile"]]!.value).toBe(DEFAULT_PATHS.curveSecretKeyFile);
    expect(env[ENV_VARS["security.allowlistFile"]]!.value).toBe(DEFAULT_PATHS.allowlistFile);
    expect(env[ENV_VARS["server.maxAgents"]]!.value).toBe("20");
    expect(env[ENV_VARS["nats.urls"]]!.value).toBe(
      "nats://zeroplane-nats.zeroplane-dev.svc.cluster.local:4222",
    );
    expect(env[ENV_VARS["nats.replicas"]]!.value).toBe("1");
    expect(env[ENV_VARS["runner.stateDir"]]!.value).toBe(DEFAULT_PATHS.stateDir);
  });

  it.each(["dev", "staging", "prod", "curve-off"] as const)(
    "%s: gives an environment the runtime's own config loader accepts",
    (env) => {
      const spec =
        env === "curve-off"
          ? minimalSpec({ curve: { mode: "off", acceptPlaintext: true }, allowlist: undefined })
          : exampleSpec(env);
      const servers = synth(spec).objects.filter(
        (o) =>
          ["Deployment", "StatefulSet"].includes(o.kind) &&
          o.metadata.labels?.["app.kubernetes.io/component"] === "agent-server",
      );
      expect(servers.length).toBeGreaterThanOrEqual(1);
      for (const workload of servers) {
        const podEnv = Object.fromEntries(
          (container(workload).env as { name: string; value?: string }[]).map((entry) => [
            entry.name,
            entry.value ?? `${workload.metadata.name}-0`,
          ]),
        );
        const config = loadConfig({ env: podEnv });
        expect(config.server.id).toBe(`${workload.metadata.name}-0`);
        expect(config.security.curve).toBe(env !== "curve-off");
        expect(config.http.port).toBe(DEFAULT_PORTS.http);
      }
    },
  );

  it("mounts the CURVE key and the allowlist as whole directories, so rotation needs no restart", () => {
    const mounts = container(deployment).volumeMounts as {
      name: string;
      mountPath: string;
      subPath?: string;
    }[];
    expect(mounts.every((mount) => mount.subPath === undefined)).toBe(true);
    expect(mounts).toContainEqual({ name: "curve", mountPath: DEFAULT_PATHS.curveDir, readOnly: true });
    expect(mounts).toContainEqual({
      name: "allowlist",
      mountPath: DEFAULT_PATHS.allowlistDir,
      readOnly: true,
    });
    // Volumes are untyped manifest JSON; `any` keeps the deep reads below readable.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const volumes = deployment.spec.template.spec.volumes as Record<string, any>[];
    const curve = volumes.find((volume) => volume.name === "curve")!;
    expect(curve.secret.secretName).toBe("zeroplane-curve");
    expect(curve.secret.items.map((item: { key: string }) => item.key).sort()).toEqual(
      [CURVE_SECRET_KEYS.publicKey, CURVE_SECRET_KEYS.secretKey].sort(),
    );
    const allowlist = volumes.find((volume) => volume.name === "allowlist")!;
    expect(allowlist.configMap).toMatchObject({
      name: "zeroplane-allowlist",
      items: [{ key: ALLOWLIST_KEY }],
    });
  });

  it("gives writable emptyDirs for the state directory and /tmp under a read-only root", () => {
    const mounts = container(deployment).volumeMounts as { name: string; mountPath: string }[];
    expect(mounts.map((mount) => mount.mountPath)).toEqual(
      expect.arrayContaining([DEFAULT_PATHS.stateDir, "/tmp"]),
    );
    expect(container(deployment).securityContext.readOnlyRootFilesystem).toBe(true);
  });

  it("probes startup and liveness on /healthz and readiness on /readyz", () => {
    const c = container(deployment);
    expect(c.startupProbe.httpGet.path).toBe(HTTP_PATHS.healthz);
    expect(c.livenessProbe.httpGet.path).toBe(HTTP_PATHS.healthz);
    expect(c.readinessProbe.httpGet.path).toBe(HTTP_PATHS.readyz);
    expect(c.livenessProbe).not.toEqual(c.readinessProbe);
  });

  it("runs non-root with a high uid, seccomp RuntimeDefault, no capabilities and no token", () => {
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(container(deployment).securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(find(dev, "ServiceAccount", "zeroplane-default").automountServiceAccountToken).toBe(false);
  });

  it("waits the server's drain time plus a margin before killing it", () => {
    const grace = defaultConfig().server.shutdownGraceMs / 1000;
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBe(
      grace + TERMINATION_MARGIN_SECONDS,
    );
    const custom = synth(minimalSpec({ agentServers: [{ name: "slow", shutdownGraceMs: 61_500 }] })).objects;
    const slow = find(custom, "Deployment", "zeroplane-slow");
    expect(slow.spec.template.spec.terminationGracePeriodSeconds).toBe(62 + TERMINATION_MARGIN_SECONDS);
    expect(envMap(slow)[ENV_VARS["server.shutdownGraceMs"]]!.value).toBe("61500");
  });

  it("spreads pods across zones and nodes", () => {
    const constraints = deployment.spec.template.spec.topologySpreadConstraints as { topologyKey: string }[];
    expect(constraints.map((constraint) => constraint.topologyKey)).toEqual([
      "topology.kubernetes.io/zone",
      "kubernetes.io/hostname",
    ]);
  });

  it("serves ROUTER, PUB and metrics on a ClusterIP Service", () => {
    const service = find(dev, "Service", "zeroplane-default");
    expect(service.spec.type).toBe("ClusterIP");
    expect(service.spec.ports.map((port: { port: number }) => port.port)).toEqual([
      DEFAULT_PORTS.router,
      DEFAULT_PORTS.stream,
      DEFAULT_PORTS.http,
    ]);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
  });

  it("keeps at least one server during voluntary disruptions when it has two or more", () => {
    const staging = synth(exampleSpec("staging")).objects;
    expect(find(staging, "PodDisruptionBudget", "zeroplane-default").spec.minAvailable).toBe(1);
    expect(find(dev, "PodDisruptionBudget", "zeroplane-default").spec.minAvailable).toBe(0);
  });

  it("runs as a StatefulSet with a per-pod state volume when asked", () => {
    const staging = synth(exampleSpec("staging")).objects;
    const sts = find(staging, "StatefulSet", "zeroplane-batch");
    expect(sts.spec.serviceName).toBe("zeroplane-batch-headless");
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("5Gi");
    expect(find(staging, "Service", "zeroplane-batch-headless").spec.clusterIP).toBe("None");
    expect(ofKind(staging, "PersistentVolumeClaim")).toEqual([]);
  });

  it("exposes a group through an NLB with the aws-load-balancer-controller annotations", () => {
    const prod = synth(exampleSpec("prod")).objects;
    const lb = find(prod, "Service", "zeroplane-default-public");
    expect(lb.metadata.annotations).toMatchObject({
      "service.beta.kubernetes.io/aws-load-balancer-type": "external",
      "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
      "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
      "service.beta.kubernetes.io/aws-load-balancer-attributes": "load_balancing.cross_zone.enabled=true",
    });
    expect(lb.spec.type).toBe("LoadBalancer");
    expect(lb.spec.loadBalancerSourceRanges).toEqual(["198.51.100.0/24", "203.0.113.0/24"]);
    // The metrics port never leaves the cluster.
    expect(lb.spec.ports.map((port: { port: number }) => port.port)).toEqual([
      DEFAULT_PORTS.router,
      DEFAULT_PORTS.stream,
    ]);
    expect(
      find(prod, "Service", "zeroplane-internal-public").metadata.annotations![
        "service.beta.kubernetes.io/aws-load-balancer-scheme"
      ],
    ).toBe("internal");
  });

  it("stays internal (ClusterIP and headless only) by default", () => {
    const objects = synth(minimalSpec()).objects;
    expect(
      ofKind(objects, "Service").map((service) => [service.metadata.name, service.spec.type ?? "ClusterIP"]),
    ).toEqual([
      ["zeroplane-default-headless", "ClusterIP"],
      ["zeroplane-default", "ClusterIP"],
    ]);
  });

  it("gives a Deployment group a headless Service of its ready servers, for dns:// placement", () => {
    const headless = find(dev, "Service", "zeroplane-default-headless");
    expect(headless.spec).toEqual({
      clusterIP: "None",
      publishNotReadyAddresses: false,
      selector: deployment.spec.selector.matchLabels,
      ports: [
        { name: "router", port: DEFAULT_PORTS.router, targetPort: "router", protocol: "TCP" },
        { name: "events", port: DEFAULT_PORTS.stream, targetPort: "events", protocol: "TCP" },
      ],
    });
    expect(headless.metadata.labels).toEqual(deployment.metadata.labels);
    // Every group, whatever its workload kind, has exactly one.
    const staging = synth(exampleSpec("staging")).objects;
    for (const workload of [...ofKind(staging, "Deployment"), ...ofKind(staging, "StatefulSet")]) {
      if (workload.metadata.name.endsWith("-nats")) continue;
      expect(find(staging, "Service", `${workload.metadata.name}-headless`).spec.clusterIP).toBe("None");
    }
  });

  it("turns CURVE off only with the explicit plaintext flag, and says so to the runtime", () => {
    const objects = synth(
      minimalSpec({ curve: { mode: "off", acceptPlaintext: true }, allowlist: undefined }),
    ).objects;
    const env = envMap(find(objects, "Deployment", "zeroplane-default"));
    expect(env[ENV_VARS["security.curve"]]!.value).toBe("false");
    expect(env[ENV_VARS["security.allowInsecure"]]!.value).toBe("true");
    // Empty values override the image's defaults; the runtime treats "" as unset.
    expect(env[ENV_VARS["security.secretKeyFile"]]!.value).toBe("");
    expect(env[ENV_VARS["security.allowlistFile"]]!.value).toBe("");
  });

  it("reads the NATS auth Secret by the same key names in the NATS pods and the agent servers", () => {
    expect(NATS_AUTH_SECRET_KEYS).toEqual({ user: "user", password: "password" });
    const staging = synth(exampleSpec("staging")).objects;
    const natsEnv = find(staging, "StatefulSet", "zeroplane-nats").spec.template.spec.containers[0].env as {
      valueFrom?: { secretKeyRef?: { name: string; key: string } };
    }[];
    const natsKeys = natsEnv.flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : []));
    const volume = find(staging, "Deployment", "zeroplane-default").spec.template.spec.volumes.find(
      (v: { name: string }) => v.name === "nats-credentials",
    );
    const mountedKeys = volume.secret.items.map((item: { key: string }) => item.key);
    const expected = Object.values(NATS_AUTH_SECRET_KEYS);
    expect(natsKeys.map((ref) => ref.key).sort()).toEqual([...expected].sort());
    expect([...mountedKeys].sort()).toEqual([...expected].sort());
    expect(new Set(natsKeys.map((ref) => ref.name))).toEqual(new Set([volume.secret.secretName]));
  });

  it("mounts NATS credentials as files when the cluster requires them", () => {
    const staging = synth(exampleSpec("staging")).objects;
    const server = find(staging, "Deployment", "zeroplane-default");
    const env = envMap(server);
    expect(env[ENV_VARS["nats.userFile"]]!.value).toBe(
      `${DEFAULT_PATHS.natsCredentialsDir}/${NATS_AUTH_SECRET_KEYS.user}`,
    );
    expect(env[ENV_VARS["nats.passwordFile"]]!.value).toBe(
      `${DEFAULT_PATHS.natsCredentialsDir}/${NATS_AUTH_SECRET_KEYS.password}`,
    );
    expect(env[ENV_VARS["nats.replicas"]]!.value).toBe("3");
    expect(JSON.stringify(container(server).env)).not.toMatch(/secretKeyRef/);
  });
});
