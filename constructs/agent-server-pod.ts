/**
 * The agent server's pod: the server container (environment, ports, probes, mounts), the runner
 * sidecar, and the volumes for state, CURVE keys, the allowlist and the NATS Secrets.
 */
import * as k8s from "cdk8s-plus-27/lib/imports/k8s.js";
import {
  ALLOWLIST_KEY,
  CURVE_SECRET_KEYS,
  DEFAULT_PATHS,
  DEFAULT_PORTS,
  ENV_VARS,
  HTTP_PATHS,
  SHARED_DEFAULTS,
  shutdownBudgetMs,
} from "../runtime/config/names.js";
import {
  SERVER_SOCKET_MOUNT,
  runnerContainer,
  runnerVolumes,
  serverRunnerEnv,
  type AgentRunnerProps,
} from "./agent-runner.js";
import type { AgentServerProps } from "./agent-server.js";
import {
  containerResources,
  pullPolicy,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  spreadConstraints,
} from "./common.js";
import { NATS_AUTH_SECRET_KEYS, NATS_TLS_SECRET_KEYS } from "./nats-config.js";
import type { ResourceSpec } from "./platform.js";

/** Seconds added to the server's drain time so the kubelet never kills a draining server. */
export const TERMINATION_MARGIN_SECONDS = 10;

/** The two parts of a server's SIGTERM drain (server.agentDrainMs and server.shutdownGraceMs). */
export interface DrainTimes {
  readonly agentDrainMs: number;
  readonly shutdownGraceMs: number;
}

/** The pod's terminationGracePeriodSeconds: the server's whole shutdown budget plus a margin. */
export function terminationGraceSeconds(drain: DrainTimes): number {
  return Math.ceil(shutdownBudgetMs(drain) / 1000) + TERMINATION_MARGIN_SECONDS;
}

/** The container name; alerts and dashboards select on it. */
export const AGENT_SERVER_CONTAINER = "agent-server";

/**
 * Named container ports (at most 15 characters each). The stream's port keeps the name `events`,
 * which NetworkPolicies, monitors and clients already select on.
 */
export const AGENT_SERVER_PORT_NAMES = { router: "router", stream: "events", http: "http-metrics" } as const;

/** Where the NATS CA certificate is mounted in the agent server. */
export const NATS_CA_DIR = "/var/run/zeroplane/nats-ca";

/** What the pod needs beyond the group's props: the values AgentServer derived from them. */
export interface AgentServerPod {
  readonly props: AgentServerProps;
  /** The group's object name (its service account's too). */
  readonly name: string;
  readonly drain: DrainTimes;
  readonly selectorLabels: Record<string, string>;
  readonly workloadKind: "Deployment" | "StatefulSet";
  readonly resources: ResourceSpec;
  readonly runnerResources: ResourceSpec;
  readonly maxAgents: number;
}

/** The agent server's pod: the server container, the runner sidecar and their volumes. */
export function agentServerPodSpec(pod: AgentServerPod): k8s.PodSpec {
  const { props, name, drain } = pod;
  const { volumes, mounts } = serverVolumes(props, pod.workloadKind);
  const runner: AgentRunnerProps = {
    image: props.image,
    resources: pod.runnerResources,
    logLevel: props.logLevel ?? "info",
  };
  return {
    serviceAccountName: name,
    // Neither container calls the Kubernetes API; the runner must never hold a token.
    automountServiceAccountToken: false,
    // Separate process namespaces: an agent cannot see the server's /proc/<pid>/environ or memory.
    shareProcessNamespace: false,
    enableServiceLinks: false,
    securityContext: restrictedPodSecurityContext(),
    terminationGracePeriodSeconds: terminationGraceSeconds(drain),
    topologySpreadConstraints: spreadConstraints(pod.selectorLabels),
    containers: [
      {
        name: AGENT_SERVER_CONTAINER,
        image: props.image,
        imagePullPolicy: pullPolicy(props.image),
        args: ["server"],
        env: serverEnv(props, drain, pod.maxAgents),
        ports: [
          containerPort(AGENT_SERVER_PORT_NAMES.router, DEFAULT_PORTS.router),
          containerPort(AGENT_SERVER_PORT_NAMES.stream, DEFAULT_PORTS.stream),
          containerPort(AGENT_SERVER_PORT_NAMES.http, DEFAULT_PORTS.http),
        ],
        resources: containerResources(pod.resources),
        startupProbe: httpProbe(HTTP_PATHS.healthz, { periodSeconds: 2, failureThreshold: 60 }),
        livenessProbe: httpProbe(HTTP_PATHS.healthz, { periodSeconds: 10, failureThreshold: 3 }),
        readinessProbe: httpProbe(HTTP_PATHS.readyz, { periodSeconds: 5, failureThreshold: 2 }),
        securityContext: restrictedContainerSecurityContext(),
        volumeMounts: [...mounts, SERVER_SOCKET_MOUNT],
      },
      runnerContainer(runner),
    ],
    volumes: [...volumes, ...runnerVolumes(runner)],
  };
}

/** The server's environment. Every name comes from the runtime's config module. */
function serverEnv(props: AgentServerProps, drain: DrainTimes, maxAgents: number): k8s.EnvVar[] {
  const env: k8s.EnvVar[] = [
    { name: ENV_VARS["server.id"], valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    { name: ENV_VARS["server.bind"], value: `tcp://0.0.0.0:${DEFAULT_PORTS.router}` },
    { name: ENV_VARS["server.publishBind"], value: `tcp://0.0.0.0:${DEFAULT_PORTS.stream}` },
    { name: ENV_VARS["server.maxAgents"], value: String(maxAgents) },
    { name: ENV_VARS["server.shutdownGraceMs"], value: String(drain.shutdownGraceMs) },
    { name: ENV_VARS["server.agentDrainMs"], value: String(drain.agentDrainMs) },
    { name: ENV_VARS["http.host"], value: "0.0.0.0" },
    { name: ENV_VARS["http.port"], value: String(DEFAULT_PORTS.http) },
    { name: ENV_VARS["runner.stateDir"], value: DEFAULT_PATHS.stateDir },
    { name: ENV_VARS["log.level"], value: props.logLevel ?? SHARED_DEFAULTS["log.level"] },
    ...serverRunnerEnv(),
  ];
  if (props.curveSecretName) {
    env.push(
      { name: ENV_VARS["security.curve"], value: "true" },
      { name: ENV_VARS["security.secretKeyFile"], value: DEFAULT_PATHS.curveSecretKeyFile },
    );
  } else {
    // Empty values override the image's defaults (the runtime treats "" as unset).
    env.push(
      { name: ENV_VARS["security.curve"], value: "false" },
      { name: ENV_VARS["security.allowInsecure"], value: "true" },
      { name: ENV_VARS["security.secretKeyFile"], value: "" },
    );
  }
  env.push({
    name: ENV_VARS["security.allowlistFile"],
    value: props.allowlist ? DEFAULT_PATHS.allowlistFile : "",
  });
  if (props.nats) {
    env.push(
      { name: ENV_VARS["nats.enabled"], value: "true" },
      { name: ENV_VARS["nats.urls"], value: props.nats.url },
      { name: ENV_VARS["nats.replicas"], value: String(props.nats.streamReplicas) },
      ...(props.nats.streamMaxBytes === undefined
        ? []
        : [{ name: ENV_VARS["nats.maxBytes"], value: String(props.nats.streamMaxBytes) }]),
      { name: ENV_VARS["nats.spoolDir"], value: `${DEFAULT_PATHS.stateDir}/spool` },
    );
    if (props.nats.credentialsSecret) {
      env.push(
        {
          name: ENV_VARS["nats.userFile"],
          value: `${DEFAULT_PATHS.natsCredentialsDir}/${NATS_AUTH_SECRET_KEYS.user}`,
        },
        {
          name: ENV_VARS["nats.passwordFile"],
          value: `${DEFAULT_PATHS.natsCredentialsDir}/${NATS_AUTH_SECRET_KEYS.password}`,
        },
      );
    }
    if (props.nats.tlsCaSecret) {
      env.push({ name: ENV_VARS["nats.tlsCaFile"], value: `${NATS_CA_DIR}/${NATS_TLS_SECRET_KEYS.ca}` });
    }
  }
  return env.sort((a, b) => a.name.localeCompare(b.name));
}

/** The server container's volumes: scratch, state, CURVE keys, allowlist and the NATS Secrets. */
function serverVolumes(
  props: AgentServerProps,
  workloadKind: "Deployment" | "StatefulSet",
): { volumes: k8s.Volume[]; mounts: k8s.VolumeMount[] } {
  const volumes: k8s.Volume[] = [{ name: "tmp", emptyDir: { sizeLimit: k8s.Quantity.fromString("256Mi") } }];
  const mounts: k8s.VolumeMount[] = [{ name: "tmp", mountPath: "/tmp" }];
  if (workloadKind === "Deployment") {
    volumes.push({
      name: "state",
      emptyDir: { sizeLimit: k8s.Quantity.fromString(props.stateSize ?? "1Gi") },
    });
  }
  mounts.push({ name: "state", mountPath: DEFAULT_PATHS.stateDir });
  if (props.curveSecretName) {
    // The whole directory is mounted (no subPath), so a rotated Secret reaches the pod without a restart.
    volumes.push(
      secretVolume(
        "curve",
        props.curveSecretName,
        [CURVE_SECRET_KEYS.secretKey, CURVE_SECRET_KEYS.publicKey],
        0o440,
      ),
    );
    mounts.push({ name: "curve", mountPath: DEFAULT_PATHS.curveDir, readOnly: true });
  }
  if (props.allowlist) {
    const items = [{ key: ALLOWLIST_KEY, path: ALLOWLIST_KEY }];
    volumes.push(
      props.allowlist.kind === "configMap"
        ? { name: "allowlist", configMap: { name: props.allowlist.name, items, defaultMode: 0o444 } }
        : { name: "allowlist", secret: { secretName: props.allowlist.name, items, defaultMode: 0o440 } },
    );
    mounts.push({ name: "allowlist", mountPath: DEFAULT_PATHS.allowlistDir, readOnly: true });
  }
  if (props.nats?.credentialsSecret) {
    volumes.push(
      secretVolume(
        "nats-credentials",
        props.nats.credentialsSecret,
        [NATS_AUTH_SECRET_KEYS.user, NATS_AUTH_SECRET_KEYS.password],
        0o440,
      ),
    );
    mounts.push({ name: "nats-credentials", mountPath: DEFAULT_PATHS.natsCredentialsDir, readOnly: true });
  }
  if (props.nats?.tlsCaSecret) {
    volumes.push(secretVolume("nats-ca", props.nats.tlsCaSecret, [NATS_TLS_SECRET_KEYS.ca], 0o444));
    mounts.push({ name: "nats-ca", mountPath: NATS_CA_DIR, readOnly: true });
  }
  return { volumes, mounts };
}

/** A Secret volume holding exactly `keys`, each as a file of its own name. */
function secretVolume(
  name: string,
  secretName: string,
  keys: readonly string[],
  defaultMode: number,
): k8s.Volume {
  return { name, secret: { secretName, defaultMode, items: keys.map((key) => ({ key, path: key })) } };
}

function containerPort(name: string, number: number): k8s.ContainerPort {
  return { name, containerPort: number, protocol: "TCP" };
}

function httpProbe(path: string, timing: { periodSeconds: number; failureThreshold: number }): k8s.Probe {
  return {
    httpGet: { path, port: k8s.IntOrString.fromString(AGENT_SERVER_PORT_NAMES.http), scheme: "HTTP" },
    timeoutSeconds: 3,
    successThreshold: 1,
    ...timing,
  };
}
