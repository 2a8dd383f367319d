/**
 * The NATS StatefulSet's pod: the server container (environment, mounts, ports, probes), the
 * Prometheus exporter sidecar and the volumes they share. One function per part; NatsCluster composes.
 */
import * as k8s from "cdk8s-plus-27/lib/imports/k8s.js";
import {
  imageRef,
  pullPolicy,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  spreadConstraints,
} from "./common.js";
import { LAME_DUCK, NATS_AUTH_SECRET_KEYS, NATS_ENV, NATS_PATHS, NATS_PORTS } from "./nats-config.js";
import type { NatsClusterSpec } from "./platform.js";

/** Default NATS server image (the official image; pin by digest in production). */
export const DEFAULT_NATS_IMAGE = { repository: "nats", tag: "2.10.22-alpine" } as const;
/** Default Prometheus NATS exporter sidecar image. */
export const DEFAULT_NATS_EXPORTER_IMAGE = {
  repository: "natsio/prometheus-nats-exporter",
  tag: "0.15.0",
} as const;
/** The exporter's metrics port. */
export const NATS_EXPORTER_PORT = 7777;

/** What the pod needs beyond the spec: names and the values NatsCluster derived from it. */
export interface NatsPodInput {
  readonly spec: NatsClusterSpec;
  /** The StatefulSet's name: the service account's and the ConfigMap's prefix. */
  readonly name: string;
  readonly selectorLabels: Record<string, string>;
  /** Requests equal limits. */
  readonly resources: { readonly cpu: string; readonly memory: string };
  readonly memoryLimitBytes: number;
  readonly jetstream: boolean;
  readonly exporter: boolean;
}

export function natsPodSpec(input: NatsPodInput): k8s.PodSpec {
  const { volumes, mounts } = natsVolumes(input.spec, input.name, input.jetstream);
  const containers = [natsContainer(input, mounts)];
  if (input.exporter) containers.push(exporterContainer(input.spec, input.jetstream));
  return {
    serviceAccountName: input.name,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    // Lame duck duration + grace + margin for the final flush.
    terminationGracePeriodSeconds: LAME_DUCK.durationSeconds + LAME_DUCK.gracePeriodSeconds + 20,
    securityContext: restrictedPodSecurityContext(),
    topologySpreadConstraints: spreadConstraints(input.selectorLabels),
    containers,
    volumes,
  };
}

function natsContainer(input: NatsPodInput, mounts: k8s.VolumeMount[]): k8s.Container {
  const { spec, jetstream: js } = input;
  const quantities = {
    cpu: k8s.Quantity.fromString(input.resources.cpu),
    memory: k8s.Quantity.fromString(input.resources.memory),
    "ephemeral-storage": k8s.Quantity.fromString("256Mi"),
  };
  const image = imageRef(spec.image ?? DEFAULT_NATS_IMAGE, "nats.image");
  return {
    name: "nats",
    image,
    imagePullPolicy: pullPolicy(image),
    args: ["--config", NATS_PATHS.configFile],
    env: natsEnv(spec, input.memoryLimitBytes),
    ports: natsPorts(spec),
    resources: { requests: quantities, limits: quantities },
    // Startup waits for JetStream to catch up; readiness only needs the server; liveness only needs JetStream on.
    startupProbe: healthProbe("/healthz", {
      periodSeconds: 10,
      failureThreshold: 90,
      initialDelaySeconds: 10,
    }),
    readinessProbe: healthProbe(js ? "/healthz?js-server-only=true" : "/healthz", {
      periodSeconds: 10,
      failureThreshold: 3,
    }),
    livenessProbe: healthProbe(js ? "/healthz?js-enabled-only=true" : "/healthz", {
      periodSeconds: 30,
      failureThreshold: 3,
    }),
    lifecycle: {
      // Lame duck: stop accepting, move clients away, then exit, before SIGTERM arrives.
      preStop: { exec: { command: ["nats-server", `--signal`, `ldm=${NATS_PATHS.pidFile}`] } },
    },
    securityContext: restrictedContainerSecurityContext(),
    volumeMounts: mounts,
  };
}

/** The pod name, Go's memory limit, and the credentials from their Secret (never a ConfigMap). */
function natsEnv(spec: NatsClusterSpec, memoryLimitBytes: number): k8s.EnvVar[] {
  const env: k8s.EnvVar[] = [
    { name: NATS_ENV.podName, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    // Go's soft memory limit at 80% of the container limit: the GC works harder before the OOM killer acts.
    { name: "GOMEMLIMIT", value: `${Math.floor((memoryLimitBytes * 0.8) / 1024 ** 2)}MiB` },
  ];
  if (!spec.auth) return env;
  const secretName = spec.auth.secretName;
  const fromSecret = (key: string) => ({ secretKeyRef: { name: secretName, key } });
  // The quoted variables must follow the raw ones: the kubelet expands only earlier variables.
  env.push(
    { name: NATS_ENV.secretUser, valueFrom: fromSecret(NATS_AUTH_SECRET_KEYS.user) },
    { name: NATS_ENV.secretPassword, valueFrom: fromSecret(NATS_AUTH_SECRET_KEYS.password) },
    { name: NATS_ENV.user, value: `"$(${NATS_ENV.secretUser})"` },
    { name: NATS_ENV.password, value: `"$(${NATS_ENV.secretPassword})"` },
  );
  return env;
}

/** The config, the pid file, JetStream's store, the TLS Secrets and the leaf node credentials. */
function natsVolumes(
  spec: NatsClusterSpec,
  name: string,
  jetstream: boolean,
): { volumes: k8s.Volume[]; mounts: k8s.VolumeMount[] } {
  const volumes: k8s.Volume[] = [
    { name: "config", configMap: { name: `${name}-config`, defaultMode: 0o444 } },
    { name: "pid", emptyDir: { sizeLimit: k8s.Quantity.fromString("16Mi") } },
  ];
  const mounts: k8s.VolumeMount[] = [
    { name: "config", mountPath: NATS_PATHS.configDir, readOnly: true },
    { name: "pid", mountPath: NATS_PATHS.pidDir },
  ];
  if (jetstream) mounts.push({ name: "jetstream", mountPath: NATS_PATHS.dataDir });
  const tlsMounts: [string, string | undefined, string][] = [
    ["tls-client", spec.tls?.client?.secretName, NATS_PATHS.clientTlsDir],
    ["tls-cluster", spec.tls?.cluster?.secretName, NATS_PATHS.clusterTlsDir],
  ];
  for (const [volume, secretName, dir] of tlsMounts) {
    if (!secretName) continue;
    volumes.push({ name: volume, secret: { secretName, defaultMode: 0o440 } });
    mounts.push({ name: volume, mountPath: dir, readOnly: true });
  }
  spec.leafnodeRemotes?.forEach((remote, index) => {
    if (!remote.credentialsSecret) return;
    volumes.push({
      name: `leafnode-${index}`,
      secret: {
        secretName: remote.credentialsSecret,
        defaultMode: 0o440,
        items: [{ key: "creds", path: "creds" }],
      },
    });
    mounts.push({
      name: `leafnode-${index}`,
      mountPath: `${NATS_PATHS.leafnodeCredentialsDir}/remote-${index}`,
      readOnly: true,
    });
  });
  return { volumes, mounts };
}

function natsPorts(spec: NatsClusterSpec): k8s.ContainerPort[] {
  const ports: k8s.ContainerPort[] = [
    { name: "nats", containerPort: NATS_PORTS.client, protocol: "TCP" },
    { name: "cluster", containerPort: NATS_PORTS.cluster, protocol: "TCP" },
    { name: "monitor", containerPort: NATS_PORTS.monitor, protocol: "TCP" },
  ];
  if (spec.gateways?.length)
    ports.push({ name: "gateway", containerPort: NATS_PORTS.gateway, protocol: "TCP" });
  return ports;
}

/** The Prometheus exporter sidecar: reads the monitor port on localhost, serves `prom-metrics`. */
function exporterContainer(spec: NatsClusterSpec, jetstream: boolean): k8s.Container {
  const image = imageRef(spec.exporterImage ?? DEFAULT_NATS_EXPORTER_IMAGE, "nats.exporterImage");
  const small = {
    cpu: k8s.Quantity.fromString("50m"),
    memory: k8s.Quantity.fromString("64Mi"),
    "ephemeral-storage": k8s.Quantity.fromString("64Mi"),
  };
  const probe = (periodSeconds: number): k8s.Probe => ({
    tcpSocket: { port: k8s.IntOrString.fromString("prom-metrics") },
    initialDelaySeconds: 10,
    periodSeconds,
    timeoutSeconds: 3,
    failureThreshold: 3,
  });
  return {
    name: "exporter",
    image,
    imagePullPolicy: pullPolicy(image),
    args: [
      `-port=${NATS_EXPORTER_PORT}`,
      "-connz",
      "-routez",
      "-subz",
      "-varz",
      "-healthz",
      "-prefix=nats",
      "-use_internal_server_id",
      ...(jetstream ? ["-jsz=all"] : []),
      `http://localhost:${NATS_PORTS.monitor}/`,
    ],
    ports: [{ name: "prom-metrics", containerPort: NATS_EXPORTER_PORT, protocol: "TCP" }],
    readinessProbe: probe(10),
    livenessProbe: probe(30),
    resources: { requests: small, limits: small },
    securityContext: restrictedContainerSecurityContext(),
  };
}

function healthProbe(
  path: string,
  timing: { periodSeconds: number; failureThreshold: number; initialDelaySeconds?: number },
): k8s.Probe {
  return {
    httpGet: { path, port: k8s.IntOrString.fromString("monitor"), scheme: "HTTP" },
    timeoutSeconds: 5,
    successThreshold: 1,
    ...timing,
  };
}
