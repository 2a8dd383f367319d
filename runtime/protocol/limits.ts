/**
 * Every bound the server puts on client input, in one place (docs/protocol.md, "Limits", lists them).
 * No I/O and no runtime packages: the constructs and the docs read these too.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * The longest delay Node's setTimeout honours (2^31-1 ms, about 24.8 days). A longer one fires after
 * 1 ms, so every duration that ends up in a timer is validated against this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Structural bounds on a request frame (ZeroMQ or NATS), checked by an iterative scan of the raw bytes
 * before the decoder runs. The size bound itself is server.maxMessageBytes (config).
 */
export const WIRE_LIMITS = {
  /** Nesting depth of maps and arrays; the envelope itself is depth 1, `params` depth 2. */
  maxDepth: 32,
  /** Longest string or byte array, in bytes (a stdin write is the largest legitimate one). */
  maxStringBytes: 8 * MiB,
  /** Longest map key, in bytes. */
  maxKeyBytes: 1 * KiB,
  /** Most entries in one array or map (the largest legitimate one is a batch of 10,000 agent ids). */
  maxCollectionLength: 16_384,
  /**
   * Most values in the whole frame (every map key, map value and array item counts). The largest
   * legitimate request holds about 10,000; decoding is the costly step, so this bounds it.
   */
  maxTotalValues: 32_768,
  /** Longest request id echoed back; a longer one is refused. */
  maxRequestIdLength: 256,
} as const;

/**
 * Per-request bounds on params, enforced by the schemas in runtime/protocol/index.ts. A request over
 * one gets BAD_REQUEST naming the field, the limit and the fix.
 */
export const REQUEST_LIMITS = {
  /** spawn.command, in bytes (PATH_MAX). */
  commandBytes: 4 * KiB,
  /** spawn.args: number of arguments. */
  argsCount: 4_096,
  /** spawn.args: one argument, in bytes (Linux MAX_ARG_STRLEN). */
  argBytes: 128 * KiB,
  /** spawn.args: all arguments together, in bytes (half of a typical ARG_MAX, the rest is for env). */
  argsTotalBytes: 1 * MiB,
  /** spawn.env: number of variables. */
  envCount: 1_024,
  /** spawn.env: all `NAME=value` pairs together, in bytes. */
  envTotalBytes: 512 * KiB,
  /** spawn.env: one variable name, in bytes. */
  envNameBytes: 1 * KiB,
  /** spawn.cwd, in bytes (PATH_MAX). */
  cwdBytes: 4 * KiB,
  /** spawn.name and label values, in characters. */
  nameLength: 253,
  /** Labels per agent (spawn) or per filter (list). */
  labelsCount: 64,
  /** Label key, in characters. */
  labelKeyLength: 63,
  /** Label value, in characters. */
  labelValueLength: 253,
  /** spawn.idempotencyKey, in characters. */
  idempotencyKeyLength: 256,
  /** Agent ids, in characters. */
  agentIdLength: 128,
  /** Signal names such as SIGTERM, in characters. */
  signalLength: 32,
  /** control/batchControl `write`: bytes written to stdin by one request. */
  writeBytes: 1 * MiB,
  /** batchControl.agentIds: agents per batch. */
  batchAgents: 10_000,
  /** list.limit: agents per page. */
  listPageSize: 1_000,
  /** list.status: statuses in the filter. */
  listStatuses: 16,
  /** list.cursor, in characters. */
  cursorLength: 256,
  /** output.limit: bytes per read. */
  outputReadBytes: 10 * MiB,
  /** spawn.timeoutMs, control.graceMs and every other client duration, in milliseconds. */
  durationMs: MAX_TIMER_MS,
} as const;
