/**
 * Renders docs/config.md from the config schema: every key, its environment variable, type,
 * default and description. `npm run docs:config` rewrites the file; a test fails when it is stale.
 */
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import {
  CLIENT_ENV_VARS,
  CONFIG_FILE_ENV,
  ENV_VARS,
  configSchema,
  defaultConfig,
  type ConfigKey,
} from "../config/index.js";

/** One line per key. A key added to the schema without one here does not compile. */
const DESCRIPTIONS: Record<ConfigKey, string> = {
  "server.id": "server id in replies, logs and metrics; letters, digits, `-`, `_`",
  "server.bind": "ROUTER endpoint for client requests",
  "server.publishBind": "PUB endpoint for agent status and output events",
  "server.maxMessageBytes": "largest request accepted, in bytes",
  "server.maxAgents": "most agents alive at once; more spawns get CAPACITY",
  "server.idempotencyWindowMs": "how long a spawn's idempotency key is remembered",
  "server.requestTimeoutMs": "deadline for answering one request",
  "server.shutdownGraceMs": "time for the drain after SIGTERM, beyond agentDrainMs",
  "server.agentDrainMs":
    "time agents get to finish on their own after SIGTERM before they are stopped (0: stop at once)",
  "server.stopAgentsOnShutdown": "stop the agents when the server shuts down",
  "server.heartbeatIntervalMs": "ZMTP heartbeat interval (0: off)",
  "server.heartbeatTimeoutMs": "a peer silent this long is dropped",
  "server.heartbeatTtlMs": "heartbeat time-to-live announced to peers",
  "server.sendHighWaterMark": "replies queued per client before sends are dropped or refused",
  "server.publishHighWaterMark":
    "stream events (each at most 256 KiB) queued per subscriber before the stream drops events for it",
  "server.receiveHighWaterMark": "messages queued from peers before reading pauses",
  "server.handshakeTimeoutMs": "deadline for a connection's (CURVE) handshake",
  "security.curve": "encrypt and authenticate with CURVE; off only for loopback (or allowInsecure)",
  "security.secretKeyFile": "file with the server's CURVE secret key (Z85), from `zeroplane keygen`",
  "security.secretKey": "the server's CURVE secret key itself (prefer the file)",
  "security.allowlistFile": "client public keys allowed in, one Z85 key per line; reloaded on change",
  "security.allowInsecure": "allow plaintext beyond loopback and unauthenticated NATS command intake",
  "runner.outputCapBytes": "output kept per agent and stream; the oldest bytes go first",
  "runner.retentionMs": "how long ended agents stay listed",
  "runner.memoryBudgetBytes":
    "memory for retained output and agent records (0: derived from the container memory limit)",
  "runner.stopGraceMs": "time between SIGTERM and SIGKILL when stopping an agent",
  "runner.stateDir": "writable directory for agent records (crash reaping) and the NATS spool",
  "runner.mode": "how the server reaches the runner: process, socket or inline (see runner.md)",
  "runner.socket": "the runner's Unix socket, for mode socket",
  "runner.agentUid": "uid agents run as when the runner runs as root",
  "runner.agentGid": "gid agents run as when the runner runs as root",
  "runner.defaultMemoryBytes": "memory limit of an agent that asks for none (0: none)",
  "runner.maxMemoryBytes": "largest memory limit an agent may ask for (0: no maximum)",
  "runner.defaultCpuSeconds": "CPU-time limit of an agent that asks for none (0: none)",
  "runner.maxCpuSeconds": "largest CPU-time limit an agent may ask for (0: no maximum)",
  "runner.defaultProcesses": "process limit of an agent that asks for none (0: none)",
  "runner.maxProcesses": "largest process limit an agent may ask for (0: no maximum)",
  "runner.defaultOpenFiles": "open-file limit of an agent that asks for none (0: none)",
  "runner.maxOpenFiles": "largest open-file limit an agent may ask for (0: no maximum)",
  "http.host": "host for /healthz, /readyz and /metrics",
  "http.port": "port for /healthz, /readyz and /metrics (0: any free port)",
  "nats.enabled": "publish agent lifecycle events to NATS JetStream",
  "nats.required": "not ready while NATS is disconnected",
  "nats.urls": "NATS servers, comma-separated in the variable",
  "nats.stream": "JetStream stream name",
  "nats.subjectPrefix": "subject prefix of lifecycle events",
  "nats.replicas": "stream replicas (1-5)",
  "nats.maxAgeMs": "how long the stream keeps events (0: forever)",
  "nats.maxBytes": "the stream's byte limit, oldest events discarded beyond it (0: no limit)",
  "nats.storage": "stream storage: file or memory",
  "nats.commands": "accept control commands over NATS (needs NATS credentials)",
  "nats.commandSubjectPrefix": "subject prefix of NATS commands",
  "nats.queueGroup": "queue group the servers share for NATS commands",
  "nats.tlsCaFile": "CA file for TLS to NATS",
  "nats.tlsCertFile": "client certificate for TLS to NATS",
  "nats.tlsKeyFile": "client key for TLS to NATS",
  "nats.userFile": "file with the NATS user name (with passwordFile)",
  "nats.passwordFile": "file with the NATS password",
  "nats.tokenFile": "file with a NATS token",
  "nats.nkeySeedFile": "file with an NKey seed",
  "nats.credsFile": "NATS credentials file (JWT and seed)",
  "nats.spoolDir": "where events wait while NATS is unreachable (default: stateDir/spool)",
  "nats.spoolMaxBytes": "largest spool on disk",
  "nats.spoolFullPolicy": "when the spool is full: refuse-spawns or drop-oldest",
  "nats.reconnectWaitMs": "wait between NATS reconnect attempts",
  "nats.registry": "keep the cluster's agent registry and idempotency keys in JetStream KV",
  "nats.registryPrefix": "prefix of the registry's KV buckets (<prefix>_AGENTS, _KEYS, _SERVERS)",
  "nats.heartbeatIntervalMs": "registry heartbeat period; a server's agents read lost after 3 missed",
  "log.level": "trace, debug, info, warn, error, fatal or silent",
};

/** The client's variables (read by the SDK and the CLI, not by the server). */
const CLIENT_DESCRIPTIONS: Record<keyof typeof CLIENT_ENV_VARS, string> = {
  endpoints: "server endpoints, comma-separated: tcp://host:port or dns://name:port",
  publishEndpoints: "PUB endpoints in the same order (default: each endpoint's port + 1)",
  serverPublicKey: "the server's CURVE public key (Z85)",
  serverPublicKeyFile: "file with the server's CURVE public key",
  clientSecretKey: "this client's CURVE secret key (Z85)",
  clientSecretKeyFile: "file with this client's CURVE secret key",
  clientPublicKey: "this client's CURVE public key (default: derived from the secret)",
  clientPublicKeyFile: "file with this client's CURVE public key",
  timeoutMs: "deadline of a call in milliseconds, retries included (default 30000)",
  config: "a YAML client config file",
  context: "the context to use instead of the current one (`zeroplane context list`)",
};

/** Defaults that depend on the machine, shown as what they are rather than as this machine's value. */
const MACHINE_DEFAULTS: Partial<Record<ConfigKey, string>> = {
  "server.id": "the host name",
  "runner.stateDir": "`$TMPDIR/zeroplane`",
};

function typeOf(schema: z.ZodType): string {
  const inner = schema instanceof z.ZodOptional ? (schema.unwrap() as z.ZodType) : schema;
  if (inner instanceof z.ZodEnum) return (inner.options as string[]).join(" \\| ");
  if (inner instanceof z.ZodNumber) return "integer";
  if (inner instanceof z.ZodBoolean) return "boolean";
  if (inner instanceof z.ZodArray) return "list of strings";
  return "string";
}

function defaultText(key: ConfigKey, value: unknown): string {
  const machine = MACHINE_DEFAULTS[key];
  if (machine) return machine;
  if (value === undefined) return "(unset)";
  return `\`${Array.isArray(value) ? value.join(",") : String(value)}\``;
}

/** The whole of docs/config.md. */
export function renderConfigDocs(): string {
  const defaults = defaultConfig() as unknown as Record<string, Record<string, unknown>>;
  const sections = configSchema.shape as unknown as Record<string, z.ZodObject>;
  const rows = (Object.entries(ENV_VARS) as Array<[ConfigKey, string]>).map(([key, name]) => {
    const [section, field] = key.split(".") as [string, string];
    const schema = sections[section]!.shape[field] as z.ZodType;
    return `| \`${key}\` | \`${name}\` | ${typeOf(schema)} | ${defaultText(key, defaults[section]![field])} | ${DESCRIPTIONS[key]} |`;
  });
  const clientRows = (Object.entries(CLIENT_ENV_VARS) as Array<[keyof typeof CLIENT_ENV_VARS, string]>).map(
    ([key, name]) => `| \`${name}\` | ${CLIENT_DESCRIPTIONS[key]} |`,
  );
  return `<!-- Generated from runtime/config by \`npm run docs:config\`; do not edit by hand. -->
# Configuration

The server reads, in order (later wins): built-in defaults, a YAML or JSON config file named by
\`${CONFIG_FILE_ENV}\` (or \`zeroplane server --config\`), the \`ZEROPLANE_*\` variables below, then
\`zeroplane server\` flags. A config file uses the keys as sections: \`server: { maxAgents: 50 }\`.
Lists are comma-separated in a variable; booleans are \`true\`/\`false\` (or 1/0, yes/no, on/off).
An unknown key or \`ZEROPLANE_*\` variable is refused (exit 2) rather than ignored.

## Server

| Key | Variable | Type | Default | Meaning |
| --- | --- | --- | --- | --- |
${rows.join("\n")}

## Client (SDK and CLI)

Read by \`zeroplane\` commands other than \`server\`; flags win over them, and they win over the client
config file, which wins over the current context ([client.md](client.md#contexts)).

| Variable | Meaning |
| --- | --- |
${clientRows.join("\n")}
`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const target = join(fileURLToPath(new URL("../..", import.meta.url)), "docs", "config.md");
  writeFileSync(target, renderConfigDocs());
  process.stdout.write(`wrote ${target}\n`);
}
