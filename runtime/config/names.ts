/**
 * The names the runtime and the deployment kit share: environment variables and config keys, ports,
 * mount paths, Secret keys, HTTP paths, the runner contract, metric names and label keys, the Z85 key
 * pattern, and the few defaults the kit writes into manifests.
 *
 * Pure data: no I/O and no runtime packages, so the constructs, stacks and policies can import it
 * (and only it, with runtime/protocol) without pulling the server into synthesis. eslint.config.js
 * enforces that. The server's loader (./index.ts) re-exports everything here.
 *
 * One word per concept: the ZeroMQ PUB socket that carries agent status changes and output is
 * "the stream" (StreamEvent, STREAM_TOPICS, DEFAULT_PORTS.stream); "events" means the lifecycle
 * events published to NATS JetStream (runtime/events). Names users already depend on keep their
 * spelling: the config key `server.publishBind` (ZEROPLANE_SERVER_PUBLISH_BIND), the client's
 * ZEROPLANE_PUBLISH_ENDPOINTS, the Service port named `events` and the stack output's `events` URL.
 */

/** Default network ports. The constructs expose exactly these unless told otherwise. */
export const DEFAULT_PORTS = {
  /** ZeroMQ ROUTER socket: requests from DEALER clients. */
  router: 5555,
  /** The stream: the ZeroMQ PUB socket sending agent status changes and output to subscribers. */
  stream: 5556,
  /** HTTP: /healthz, /readyz and /metrics. */
  http: 9090,
} as const;

/** Where the constructs mount files into the agent server's pod, and where the runtime looks by default. */
export const DEFAULT_PATHS = {
  /** Directory holding the server's CURVE keypair (a mounted Secret). */
  curveDir: "/var/run/zeroplane/curve",
  /** The server's CURVE secret key, Z85 (40 characters). */
  curveSecretKeyFile: "/var/run/zeroplane/curve/server.key_secret",
  /** The server's CURVE public key, Z85 (40 characters). */
  curvePublicKeyFile: "/var/run/zeroplane/curve/server.key",
  /** Directory holding the client allowlist (a mounted Secret or ConfigMap, reloaded on change). */
  allowlistDir: "/var/run/zeroplane/allowlist",
  /** Client public keys allowed through ZAP, one Z85 key per line. */
  allowlistFile: "/var/run/zeroplane/allowlist/allowlist.txt",
  /** Writable state: agent records for orphan reaping, the NATS spool. An emptyDir or PVC. */
  stateDir: "/var/lib/zeroplane",
  /** Directory holding NATS credentials files (a mounted Secret). */
  natsCredentialsDir: "/var/run/zeroplane/nats",
  /** Directory shared by the server and runner containers (an emptyDir); holds the runner's socket. */
  runnerDir: "/var/run/zeroplane/runner",
  /** The runner's Unix socket, in runnerDir. The runner accepts one connection (the server's) per lifetime. */
  runnerSocket: "/var/run/zeroplane/runner/runner.sock",
  /**
   * Present while the runner is up (listening, then serving its one connection): what probes check,
   * since the socket itself is unlinked once the server has connected. Always `<runnerSocket>.ready`.
   */
  runnerReadyFile: "/var/run/zeroplane/runner/runner.sock.ready",
} as const;

/**
 * How the server reaches the process runner (see docs/runner.md):
 * - `process`: the server starts `zeroplane runner` as its own child (locally and in a single-container image);
 * - `socket`: the server connects to a runner already listening on `runner.socket` (the Kubernetes sidecar);
 * - `inline`: agents are children of the server itself. No isolation: for benchmarks and tests only.
 */
export const RUNNER_MODES = ["process", "socket", "inline"] as const;
export type RunnerMode = (typeof RUNNER_MODES)[number];

/**
 * The runner's own bundle, beside the CLI in the image (runtime/image/bundle.ts) and beside any bundled
 * entry: it loads only what the runner needs, so every agent's fork copies less (docs/runner.md).
 */
export const RUNNER_BUNDLE_NAME = "zeroplane-runner.mjs";
/** Where the image installs its application (runtime/Dockerfile). */
export const IMAGE_APP_DIR = "/opt/zeroplane";
/**
 * The runner container's command: the runner's own bundle under tini (PID 1 must reap the orphans
 * of agents), in place of the image's `zeroplane` entrypoint.
 */
export const RUNNER_CONTAINER_COMMAND = [
  "/usr/bin/tini",
  "--",
  "node",
  `${IMAGE_APP_DIR}/bin/${RUNNER_BUNDLE_NAME}`,
] as const;
/** Arguments of the runner container, after RUNNER_CONTAINER_COMMAND. */
export const RUNNER_CONTAINER_ARGS = ["runner", "--listen", DEFAULT_PATHS.runnerSocket] as const;

/** The dedicated unprivileged uid/gid agents run as when the runner starts as root, and the runner container's uid. */
export const AGENT_DEFAULT_UID = 10002;
export const AGENT_DEFAULT_GID = 10002;

/** Keys in a mounted CURVE Secret. The keygen Job writes these; the server reads them. */
export const CURVE_SECRET_KEYS = {
  publicKey: "server.key",
  secretKey: "server.key_secret",
} as const;

/** Key in the allowlist Secret or ConfigMap. */
export const ALLOWLIST_KEY = "allowlist.txt";

/**
 * Pod-template annotation listing the Secrets and ConfigMaps a workload uses that the operator creates
 * (`Secret/<name>, ConfigMap/<name>`): the constructs write it, the policy rule
 * `referenced-objects-exist` accepts what it lists, docs/stacks.md tells the operator.
 */
export const OPERATOR_CREATED_ANNOTATION = "zeroplane.dev/operator-created";

/** The environment variable that names a config file. */
export const CONFIG_FILE_ENV = "ZEROPLANE_CONFIG";

/** HTTP paths served by the observability port. */
export const HTTP_PATHS = { healthz: "/healthz", readyz: "/readyz", metrics: "/metrics" } as const;

/**
 * Every environment variable the runtime reads, keyed by its config path.
 * Names are `ZEROPLANE_<SECTION>_<KEY>` in upper snake case. Import these; never retype them.
 */
export const ENV_VARS = {
  "server.id": "ZEROPLANE_SERVER_ID",
  "server.bind": "ZEROPLANE_SERVER_BIND",
  "server.publishBind": "ZEROPLANE_SERVER_PUBLISH_BIND",
  "server.maxMessageBytes": "ZEROPLANE_SERVER_MAX_MESSAGE_BYTES",
  "server.maxAgents": "ZEROPLANE_SERVER_MAX_AGENTS",
  "server.idempotencyWindowMs": "ZEROPLANE_SERVER_IDEMPOTENCY_WINDOW_MS",
  "server.requestTimeoutMs": "ZEROPLANE_SERVER_REQUEST_TIMEOUT_MS",
  "server.shutdownGraceMs": "ZEROPLANE_SERVER_SHUTDOWN_GRACE_MS",
  "server.agentDrainMs": "ZEROPLANE_SERVER_AGENT_DRAIN_MS",
  "server.stopAgentsOnShutdown": "ZEROPLANE_SERVER_STOP_AGENTS_ON_SHUTDOWN",
  "server.heartbeatIntervalMs": "ZEROPLANE_SERVER_HEARTBEAT_INTERVAL_MS",
  "server.heartbeatTimeoutMs": "ZEROPLANE_SERVER_HEARTBEAT_TIMEOUT_MS",
  "server.heartbeatTtlMs": "ZEROPLANE_SERVER_HEARTBEAT_TTL_MS",
  "server.sendHighWaterMark": "ZEROPLANE_SERVER_SEND_HIGH_WATER_MARK",
  "server.publishHighWaterMark": "ZEROPLANE_SERVER_PUBLISH_HIGH_WATER_MARK",
  "server.receiveHighWaterMark": "ZEROPLANE_SERVER_RECEIVE_HIGH_WATER_MARK",
  "server.handshakeTimeoutMs": "ZEROPLANE_SERVER_HANDSHAKE_TIMEOUT_MS",
  "security.curve": "ZEROPLANE_SECURITY_CURVE",
  "security.secretKeyFile": "ZEROPLANE_SECURITY_SECRET_KEY_FILE",
  "security.secretKey": "ZEROPLANE_SECURITY_SECRET_KEY",
  "security.allowlistFile": "ZEROPLANE_SECURITY_ALLOWLIST_FILE",
  "security.allowInsecure": "ZEROPLANE_SECURITY_ALLOW_INSECURE",
  "runner.outputCapBytes": "ZEROPLANE_RUNNER_OUTPUT_CAP_BYTES",
  "runner.retentionMs": "ZEROPLANE_RUNNER_RETENTION_MS",
  "runner.memoryBudgetBytes": "ZEROPLANE_RUNNER_MEMORY_BUDGET_BYTES",
  "runner.stopGraceMs": "ZEROPLANE_RUNNER_STOP_GRACE_MS",
  "runner.stateDir": "ZEROPLANE_RUNNER_STATE_DIR",
  "runner.mode": "ZEROPLANE_RUNNER_MODE",
  "runner.socket": "ZEROPLANE_RUNNER_SOCKET",
  "runner.agentUid": "ZEROPLANE_RUNNER_AGENT_UID",
  "runner.agentGid": "ZEROPLANE_RUNNER_AGENT_GID",
  "runner.defaultMemoryBytes": "ZEROPLANE_RUNNER_DEFAULT_MEMORY_BYTES",
  "runner.maxMemoryBytes": "ZEROPLANE_RUNNER_MAX_MEMORY_BYTES",
  "runner.defaultCpuSeconds": "ZEROPLANE_RUNNER_DEFAULT_CPU_SECONDS",
  "runner.maxCpuSeconds": "ZEROPLANE_RUNNER_MAX_CPU_SECONDS",
  "runner.defaultProcesses": "ZEROPLANE_RUNNER_DEFAULT_PROCESSES",
  "runner.maxProcesses": "ZEROPLANE_RUNNER_MAX_PROCESSES",
  "runner.defaultOpenFiles": "ZEROPLANE_RUNNER_DEFAULT_OPEN_FILES",
  "runner.maxOpenFiles": "ZEROPLANE_RUNNER_MAX_OPEN_FILES",
  "http.host": "ZEROPLANE_HTTP_HOST",
  "http.port": "ZEROPLANE_HTTP_PORT",
  "nats.enabled": "ZEROPLANE_NATS_ENABLED",
  "nats.required": "ZEROPLANE_NATS_REQUIRED",
  "nats.urls": "ZEROPLANE_NATS_URLS",
  "nats.stream": "ZEROPLANE_NATS_STREAM",
  "nats.subjectPrefix": "ZEROPLANE_NATS_SUBJECT_PREFIX",
  "nats.replicas": "ZEROPLANE_NATS_REPLICAS",
  "nats.maxAgeMs": "ZEROPLANE_NATS_MAX_AGE_MS",
  "nats.maxBytes": "ZEROPLANE_NATS_MAX_BYTES",
  "nats.storage": "ZEROPLANE_NATS_STORAGE",
  "nats.commands": "ZEROPLANE_NATS_COMMANDS",
  "nats.commandSubjectPrefix": "ZEROPLANE_NATS_COMMAND_SUBJECT_PREFIX",
  "nats.queueGroup": "ZEROPLANE_NATS_QUEUE_GROUP",
  "nats.tlsCaFile": "ZEROPLANE_NATS_TLS_CA_FILE",
  "nats.tlsCertFile": "ZEROPLANE_NATS_TLS_CERT_FILE",
  "nats.tlsKeyFile": "ZEROPLANE_NATS_TLS_KEY_FILE",
  "nats.userFile": "ZEROPLANE_NATS_USER_FILE",
  "nats.passwordFile": "ZEROPLANE_NATS_PASSWORD_FILE",
  "nats.tokenFile": "ZEROPLANE_NATS_TOKEN_FILE",
  "nats.nkeySeedFile": "ZEROPLANE_NATS_NKEY_SEED_FILE",
  "nats.credsFile": "ZEROPLANE_NATS_CREDS_FILE",
  "nats.spoolDir": "ZEROPLANE_NATS_SPOOL_DIR",
  "nats.spoolMaxBytes": "ZEROPLANE_NATS_SPOOL_MAX_BYTES",
  "nats.spoolFullPolicy": "ZEROPLANE_NATS_SPOOL_FULL_POLICY",
  "nats.reconnectWaitMs": "ZEROPLANE_NATS_RECONNECT_WAIT_MS",
  "nats.registry": "ZEROPLANE_NATS_REGISTRY",
  "nats.registryPrefix": "ZEROPLANE_NATS_REGISTRY_PREFIX",
  "nats.heartbeatIntervalMs": "ZEROPLANE_NATS_HEARTBEAT_INTERVAL_MS",
  "log.level": "ZEROPLANE_LOG_LEVEL",
} as const;

/**
 * Environment variables read by the client SDK and the `zeroplane` CLI (not by the server).
 * `loadConfig()` ignores them, so a shell that talks to a server can also start one.
 */
export const CLIENT_ENV_VARS = {
  /** Comma-separated server endpoints: tcp://host:5555 or dns://name:5555 (every A/AAAA record). */
  endpoints: "ZEROPLANE_ENDPOINTS",
  /** Comma-separated PUB endpoints, in the same order as the endpoints. @default router port + 1 */
  publishEndpoints: "ZEROPLANE_PUBLISH_ENDPOINTS",
  /** The server's CURVE public key (Z85), or a file holding it. */
  serverPublicKey: "ZEROPLANE_SERVER_PUBLIC_KEY",
  serverPublicKeyFile: "ZEROPLANE_SERVER_PUBLIC_KEY_FILE",
  /** The client's CURVE keypair (Z85), or files holding them. */
  clientSecretKey: "ZEROPLANE_CLIENT_SECRET_KEY",
  clientSecretKeyFile: "ZEROPLANE_CLIENT_SECRET_KEY_FILE",
  clientPublicKey: "ZEROPLANE_CLIENT_PUBLIC_KEY",
  clientPublicKeyFile: "ZEROPLANE_CLIENT_PUBLIC_KEY_FILE",
  /** Per-call deadline in milliseconds, retries included. */
  timeoutMs: "ZEROPLANE_CLIENT_TIMEOUT_MS",
  /** A YAML client config file. */
  config: "ZEROPLANE_CLIENT_CONFIG",
  /** The context to use instead of the current one ($XDG_CONFIG_HOME/zeroplane/config.yaml). */
  context: "ZEROPLANE_CONTEXT",
} as const;

/** A config path such as `server.maxAgents`. */
export type ConfigKey = keyof typeof ENV_VARS;
/** An environment variable name such as `ZEROPLANE_SERVER_MAX_AGENTS`. */
export type EnvVarName = (typeof ENV_VARS)[ConfigKey];

/** The environment variable for a config key. Typed, so a typo fails to compile. */
export function envVar(key: ConfigKey): EnvVarName {
  return ENV_VARS[key];
}

/** A CURVE key in Z85: 40 characters of the Z85 alphabet (32 bytes). */
export const Z85_KEY_PATTERN = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

/**
 * Defaults the kit writes into manifests or reasons about, keyed by config path. The loader's
 * defaultConfig() uses these same values, so a manifest that omits a setting means the same thing.
 */
export const SHARED_DEFAULTS = {
  "server.maxAgents": 100,
  "server.shutdownGraceMs": 25_000,
  "server.agentDrainMs": 0,
  "nats.replicas": 1,
  "log.level": "info",
} as const;

/**
 * The cluster registry's JetStream KV buckets (runtime/events/registry.ts), named from
 * `nats.registryPrefix`: agent records, spawn idempotency keys and server heartbeats. Each bucket is
 * stored in the stream `KV_<bucket>`; the constructs and policies size and watch them by these names.
 */
export function registryBuckets(prefix: string): {
  readonly agents: string;
  readonly keys: string;
  readonly servers: string;
} {
  return { agents: `${prefix}_AGENTS`, keys: `${prefix}_KEYS`, servers: `${prefix}_SERVERS` };
}

/**
 * Byte limits of the registry's agents and keys buckets, as shares of the events stream's limit
 * (`nats.maxBytes`; none when it is 0). JetStream must hold the stream plus these shares.
 */
export const REGISTRY_BYTES_SHARE = { agents: 1 / 8, keys: 1 / 16 } as const;

/** The bytes the events stream and the registry's buckets may take together for `nats.maxBytes`. */
export function jetStreamBytesWithRegistry(streamMaxBytes: number): number {
  return Math.ceil(streamMaxBytes * (1 + REGISTRY_BYTES_SHARE.agents + REGISTRY_BYTES_SHARE.keys));
}

/** A server counts as gone once its heartbeat is older than this many heartbeat intervals. */
export const HEARTBEAT_MISSES = 3;

/** Prometheus metric names the agent server registers (runtime/observability/metrics.ts). */
export const SERVER_METRIC_NAMES = {
  requests: "zeroplane_requests_total",
  requestDuration: "zeroplane_request_duration_seconds",
  spawns: "zeroplane_spawns_total",
  spawnFailures: "zeroplane_spawn_failures_total",
  authRejections: "zeroplane_auth_rejections_total",
  handshakeFailures: "zeroplane_handshake_failures_total",
  malformedMessages: "zeroplane_malformed_messages_total",
  idempotentReplays: "zeroplane_idempotent_replays_total",
  streamEventsDropped: "zeroplane_stream_events_dropped_total",
  allowlistRevocations: "zeroplane_allowlist_revocations_total",
  connectionRecycles: "zeroplane_connection_recycles_total",
  agents: "zeroplane_agents",
  outputBytesDropped: "zeroplane_output_bytes_dropped_total",
} as const;

/** Prometheus metric names of the NATS event publisher and command intake (runtime/events/metrics.ts). */
export const EVENTS_METRIC_NAMES = {
  published: "zeroplane_events_published_total",
  publishFailures: "zeroplane_events_publish_failures_total",
  duplicates: "zeroplane_events_duplicates_total",
  spoolDepthEvents: "zeroplane_events_spool_depth_events",
  spoolDepthBytes: "zeroplane_events_spool_depth_bytes",
  spoolDropped: "zeroplane_events_spool_dropped_total",
  spoolWriteFailures: "zeroplane_events_spool_write_failures_total",
  spoolUnavailable: "zeroplane_events_spool_unavailable",
  spoolDiskFreeBytes: "zeroplane_events_spool_disk_free_bytes",
  spawnsRefused: "zeroplane_events_spawns_refused_total",
  natsConnected: "zeroplane_events_nats_connected",
  commands: "zeroplane_nats_commands_total",
  registryWrites: "zeroplane_registry_writes_total",
  registryClaims: "zeroplane_registry_claims_total",
  registryReady: "zeroplane_registry_ready",
} as const;

/** Label keys on the runtime's metrics; alerts and dashboards group and select by them. */
export const METRIC_LABELS = {
  /** Request method (requests, request duration, NATS commands). */
  method: "method",
  /** `ok` or an error code (requests). */
  result: "result",
  /** `ok` or an error code (NATS commands). */
  outcome: "outcome",
  /** Why a client was refused (auth rejections, handshake failures, malformed messages). */
  reason: "reason",
  /** Agent status (the agents gauge). */
  status: "status",
} as const;

/**
 * The pods metric the Prometheus adapter derives from the agents gauge for the HPA
 * (docs/constructs.md gives the adapter rule).
 */
export const ACTIVE_AGENTS_METRIC = "zeroplane_agents_active";

/**
 * The longest a shutdown may take: the agent drain, then the rest of the drain (stopping agents,
 * flushing events, closing sockets) within `shutdownGraceMs`. The server exits by then at the latest,
 * and the Kubernetes grace period is derived from it.
 */
export function shutdownBudgetMs(server: {
  readonly agentDrainMs: number;
  readonly shutdownGraceMs: number;
}): number {
  return server.agentDrainMs + server.shutdownGraceMs;
}
