/**
 * The agent runner sidecar of an agent-server pod (docs/runner.md): the only container that starts
 * agent processes. It runs as the agents' unprivileged uid, mounts no Secret and shares exactly one
 * volume with the server, the directory holding the runner's Unix socket. Agents' CPU and memory count
 * against this container, so an agent memory bomb OOM-kills the runner, never the server.
 */
import * as k8s from "cdk8s-plus-27/lib/imports/k8s.js";
import {
  AGENT_DEFAULT_GID,
  AGENT_DEFAULT_UID,
  DEFAULT_PATHS,
  ENV_VARS,
  RUNNER_CONTAINER_ARGS,
  RUNNER_CONTAINER_COMMAND,
} from "../runtime/config/names.js";
import { containerResources, pullPolicy, restrictedContainerSecurityContext } from "./common.js";
import type { ResourceSpec } from "./platform.js";

/** The runner container's name; the policy rule `no-secret-in-runner` finds it by its args instead. */
export const AGENT_RUNNER_CONTAINER = "agent-runner";

/** Pod volumes of the split pod, by name. */
export const RUNNER_VOLUMES = {
  /** Shared by both containers at DEFAULT_PATHS.runnerDir: the runner's socket, nothing else. */
  socket: "runner-socket",
  /** The runner's own state directory (agent records for orphan reaping). */
  state: "runner-state",
  /** The agents' /tmp. */
  tmp: "runner-tmp",
} as const;

/** Runner defaults: sized for the agents it runs, not for the runner itself. */
export const DEFAULT_RUNNER_RESOURCES: ResourceSpec = {
  requests: { cpu: "250m", memory: "512Mi" },
  limits: { cpu: "2", memory: "2Gi" },
  ephemeralStorage: "1Gi",
};

/** The agents' /tmp size when `ephemeralStorage` is unset. */
const DEFAULT_AGENT_TMP = "1Gi";

export interface AgentRunnerProps {
  readonly image: string;
  readonly resources: ResourceSpec;
  readonly logLevel: string;
}

/** The volumes only the runner mounts plus the shared socket directory. */
export function runnerVolumes(props: AgentRunnerProps): k8s.Volume[] {
  return [
    // A socket needs no space; the limit only stops the directory being used as storage.
    { name: RUNNER_VOLUMES.socket, emptyDir: { sizeLimit: k8s.Quantity.fromString("1Mi") } },
    { name: RUNNER_VOLUMES.state, emptyDir: { sizeLimit: k8s.Quantity.fromString("64Mi") } },
    {
      name: RUNNER_VOLUMES.tmp,
      emptyDir: {
        sizeLimit: k8s.Quantity.fromString(props.resources.ephemeralStorage ?? DEFAULT_AGENT_TMP),
      },
    },
  ];
}

/** The server container's mount of the shared socket directory. */
export const SERVER_SOCKET_MOUNT: k8s.VolumeMount = {
  name: RUNNER_VOLUMES.socket,
  mountPath: DEFAULT_PATHS.runnerDir,
};

/** The server's environment for reaching the sidecar. */
export function serverRunnerEnv(): k8s.EnvVar[] {
  return [
    { name: ENV_VARS["runner.mode"], value: "socket" },
    { name: ENV_VARS["runner.socket"], value: DEFAULT_PATHS.runnerSocket },
  ];
}

/**
 * The ready file exists while the runner is up, listening or serving. The socket itself cannot be
 * probed: the runner accepts one connection per lifetime, the server's, then unlinks the socket, and
 * exits when that connection drops.
 */
function socketProbe(timing: { periodSeconds: number; failureThreshold: number }): k8s.Probe {
  return {
    exec: { command: ["test", "-e", DEFAULT_PATHS.runnerReadyFile] },
    timeoutSeconds: 3,
    successThreshold: 1,
    ...timing,
  };
}

export function runnerContainer(props: AgentRunnerProps): k8s.Container {
  const env: k8s.EnvVar[] = [
    { name: ENV_VARS["log.level"], value: props.logLevel },
    { name: ENV_VARS["runner.stateDir"], value: DEFAULT_PATHS.stateDir },
  ];
  return {
    name: AGENT_RUNNER_CONTAINER,
    image: props.image,
    imagePullPolicy: pullPolicy(props.image),
    command: [...RUNNER_CONTAINER_COMMAND],
    args: [...RUNNER_CONTAINER_ARGS],
    env: env.sort((a, b) => a.name.localeCompare(b.name)),
    resources: containerResources(props.resources),
    startupProbe: socketProbe({ periodSeconds: 2, failureThreshold: 30 }),
    livenessProbe: socketProbe({ periodSeconds: 10, failureThreshold: 3 }),
    readinessProbe: socketProbe({ periodSeconds: 5, failureThreshold: 2 }),
    securityContext: restrictedContainerSecurityContext(AGENT_DEFAULT_UID, AGENT_DEFAULT_GID),
    volumeMounts: [
      { name: RUNNER_VOLUMES.socket, mountPath: DEFAULT_PATHS.runnerDir },
      // Same path as the server's state, a different volume: each container sees only its own.
      { name: RUNNER_VOLUMES.state, mountPath: DEFAULT_PATHS.stateDir },
      { name: RUNNER_VOLUMES.tmp, mountPath: "/tmp" },
    ],
  };
}
