/**
 * The wire protocol shared by the agent server, the client SDK and NATS command intake.
 *
 * A request is one ZeroMQ frame holding a MessagePack map:
 *   { v: PROTOCOL_VERSION, id: string, method: Method, params: {...} }
 * A reply is one frame holding:
 *   { v, id, ok: true, result } or { v, id, ok: false, error: { code, message, retryable } }
 * See docs/protocol.md for the full description.
 */
import { z } from "zod";
import { REQUEST_LIMITS } from "./limits.js";

export * from "./limits.js";

export const PROTOCOL_VERSION = 1;

export const AGENT_STATUSES = [
  "starting",
  "running",
  "paused",
  "stopping",
  "exited",
  "failed",
  "killed",
  "timed_out",
  /** Read from the cluster registry: the agent's server stopped heartbeating (docs/events.md). */
  "lost",
] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

/** Statuses after which an agent never changes again. */
export const TERMINAL_STATUSES: ReadonlySet<AgentStatus> = new Set([
  "exited",
  "failed",
  "killed",
  "timed_out",
  "lost",
]);

export const OUTPUT_STREAMS = ["stdout", "stderr"] as const;
export type OutputStream = (typeof OUTPUT_STREAMS)[number];

export const CONTROL_ACTIONS = ["pause", "resume", "stop", "kill", "signal", "write"] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];

export * from "./errors.js";
import type { ProtocolErrorBody } from "./errors.js";

/** Everything known about one agent. */
export interface AgentInfo {
  readonly id: string;
  readonly serverId: string;
  readonly name: string | null;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly status: AgentStatus;
  readonly pid: number | null;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Why the spawn failed, for status "failed". */
  readonly error: string | null;
  readonly timeoutMs: number | null;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  /** Total bytes written per stream, including those dropped by the output cap. */
  readonly outputBytes: Readonly<Record<OutputStream, number>>;
  /** Bytes dropped per stream by the output cap (oldest first). */
  readonly droppedBytes: Readonly<Record<OutputStream, number>>;
}

/** A zod check that refuses a value whose measure exceeds a limit, naming the limit and the fix. */
function atMost<T>(
  measure: (value: T) => number,
  limit: number,
  unit: string,
  constant: string,
  fix: string,
) {
  return (value: T, context: z.RefinementCtx<T>): void => {
    const got = measure(value);
    if (got > limit) {
      context.addIssue({
        code: "custom",
        message: `${got} ${unit} exceed the limit of ${limit} (REQUEST_LIMITS.${constant}). Fix: ${fix}`,
      });
    }
  };
}

const utf8Bytes = (text: string): number => Buffer.byteLength(text, "utf8");
const count = (items: readonly unknown[] | Readonly<Record<string, unknown>>): number =>
  Array.isArray(items) ? items.length : Object.keys(items).length;
const L = REQUEST_LIMITS;

/** A string bounded in UTF-8 bytes. */
const boundedString = (limit: number, constant: string, fix: string) =>
  z.string().superRefine(atMost(utf8Bytes, limit, "bytes", constant, fix));

/** Every client duration ends up in a timer: refuse what setTimeout cannot honour. */
const durationMs = (fix: string) =>
  z
    .number()
    .int()
    .positive()
    .max(
      L.durationMs,
      `at most ${L.durationMs} ms (about 24.8 days, REQUEST_LIMITS.durationMs: the longest timer Node honours). Fix: ${fix}`,
    );

const labelKey = z
  .string()
  .regex(/^[A-Za-z0-9]([A-Za-z0-9._/-]{0,62})$/, `label keys are 1-${L.labelKeyLength} of [A-Za-z0-9._/-]`);
const labels = z
  .record(
    labelKey,
    z
      .string()
      .max(
        L.labelValueLength,
        `label values are at most ${L.labelValueLength} characters (REQUEST_LIMITS.labelValueLength). Fix: keep bulk data out of labels.`,
      ),
  )
  .superRefine(
    atMost(
      count,
      L.labelsCount,
      "labels",
      "labelsCount",
      "keep labels for selection; put the rest elsewhere.",
    ),
  );
const agentId = z
  .string()
  .min(1)
  .max(L.agentIdLength, `agent ids are at most ${L.agentIdLength} characters (REQUEST_LIMITS.agentIdLength)`);
const signalName = z
  .string()
  .max(L.signalLength, `signal names are at most ${L.signalLength} characters (REQUEST_LIMITS.signalLength)`)
  .regex(/^SIG[A-Z0-9]+$/, "signal must be a name such as SIGTERM");
const stdinData = z
  .union([z.string(), z.instanceof(Uint8Array)])
  .superRefine(
    atMost(
      (data: string | Uint8Array) => (typeof data === "string" ? utf8Bytes(data) : data.length),
      L.writeBytes,
      "bytes",
      "writeBytes",
      "write stdin in several requests.",
    ),
  );
const graceMs = durationMs("use a shorter grace period.");
const envName = z
  .string()
  .regex(/^[^=\0]+$/, "env names cannot contain '='")
  .superRefine(atMost(utf8Bytes, L.envNameBytes, "bytes", "envNameBytes", "use a shorter variable name."));
const envBytes = (env: Readonly<Record<string, string>>): number =>
  Object.entries(env).reduce((total, [name, value]) => total + utf8Bytes(name) + 1 + utf8Bytes(value), 0);

export const spawnParams = z
  .object({
    command: z
      .string()
      .min(1)
      .superRefine(
        atMost(
          utf8Bytes,
          L.commandBytes,
          "bytes",
          "commandBytes",
          "name a program, not a script; pass a script through a file or stdin.",
        ),
      ),
    args: z
      .array(boundedString(L.argBytes, "argBytes", "pass long data through a file or stdin (control write)."))
      .superRefine(
        atMost(count, L.argsCount, "args", "argsCount", "pass bulk arguments through a file or stdin."),
      )
      .superRefine(
        atMost(
          (args: readonly string[]) => args.reduce((total, arg) => total + utf8Bytes(arg), 0),
          L.argsTotalBytes,
          "bytes of args",
          "argsTotalBytes",
          "pass bulk arguments through a file or stdin.",
        ),
      )
      .default([]),
    env: z
      .record(envName, z.string())
      .superRefine(atMost(count, L.envCount, "variables", "envCount", "pass configuration through a file."))
      .superRefine(
        atMost(
          envBytes,
          L.envTotalBytes,
          "bytes of env",
          "envTotalBytes",
          "pass configuration through a file.",
        ),
      )
      .default({}),
    cwd: z
      .string()
      .min(1)
      .superRefine(atMost(utf8Bytes, L.cwdBytes, "bytes", "cwdBytes", "use a shorter path."))
      .optional(),
    name: z
      .string()
      .min(1)
      .max(L.nameLength, `names are at most ${L.nameLength} characters (REQUEST_LIMITS.nameLength)`)
      .optional(),
    labels: labels.default({}),
    timeoutMs: durationMs("use a shorter timeout, or omit timeoutMs for none.").optional(),
    idempotencyKey: z
      .string()
      .min(1)
      .max(
        L.idempotencyKeyLength,
        `idempotency keys are at most ${L.idempotencyKeyLength} characters (REQUEST_LIMITS.idempotencyKeyLength)`,
      )
      .optional(),
    // Per-agent resource limits (docs/runner.md, "Per-agent limits"); the server applies defaults and maxima.
    limits: z
      .object({
        memoryBytes: z.number().int().positive().optional(),
        cpuSeconds: z.number().int().positive().optional(),
        maxProcesses: z.number().int().positive().optional(),
        maxOpenFiles: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const controlParams = z
  .object({
    agentId,
    action: z.enum(CONTROL_ACTIONS),
    /** For action "signal". */
    signal: signalName.optional(),
    /** For action "write": bytes or UTF-8 text for the agent's stdin. */
    data: stdinData.optional(),
    /** For action "write": close stdin after writing. */
    end: z.boolean().optional(),
    /** For action "stop": milliseconds between SIGTERM and SIGKILL. @default runner.stopGraceMs */
    graceMs: graceMs.optional(),
  })
  .strict();

export const batchControlParams = z
  .object({
    agentIds: z
      .array(agentId)
      .min(1)
      .superRefine(atMost(count, L.batchAgents, "agents", "batchAgents", "split the batch.")),
    action: z.enum(CONTROL_ACTIONS),
    signal: signalName.optional(),
    data: stdinData.optional(),
    end: z.boolean().optional(),
    graceMs: graceMs.optional(),
    mode: z.enum(["fail-fast", "continue"]).default("continue"),
  })
  .strict();

export const listParams = z
  .object({
    status: z
      .array(z.enum(AGENT_STATUSES))
      .superRefine(atMost(count, L.listStatuses, "statuses", "listStatuses", "name each status once."))
      .optional(),
    labels: labels.optional(),
    limit: z
      .number()
      .int()
      .min(1)
      .max(
        L.listPageSize,
        `at most ${L.listPageSize} agents per page (REQUEST_LIMITS.listPageSize). Fix: follow nextCursor.`,
      )
      .default(100),
    /** Opaque cursor from a previous page's nextCursor. */
    cursor: z
      .string()
      .max(
        L.cursorLength,
        `cursors are at most ${L.cursorLength} characters (REQUEST_LIMITS.cursorLength). Fix: pass nextCursor as returned.`,
      )
      .optional(),
  })
  .strict();

export const getParams = z.object({ agentId }).strict();

export const outputParams = z
  .object({
    agentId,
    stream: z.enum(OUTPUT_STREAMS).default("stdout"),
    /** Absolute byte offset in the stream (counting dropped bytes). */
    offset: z.number().int().nonnegative().optional(),
    /** Return the last N bytes instead of reading from an offset. */
    tail: z.number().int().positive().optional(),
    /**
     * Start at the first byte written at or after this time (milliseconds since the epoch), instead of
     * an offset; `tail` wins over it.
     */
    sinceMs: z.number().int().nonnegative().optional(),
    /** Return `times`: when the returned bytes were written. */
    times: z.boolean().optional(),
    /** At most this many bytes. */
    limit: z
      .number()
      .int()
      .positive()
      .max(
        L.outputReadBytes,
        `at most ${L.outputReadBytes} bytes per read (REQUEST_LIMITS.outputReadBytes). Fix: read in pages with nextOffset.`,
      )
      .default(1024 * 1024),
  })
  .strict();

export const emptyParams = z.object({}).strict();

/** The methods and the schema of each one's params. */
export const METHOD_PARAMS = {
  spawn: spawnParams,
  control: controlParams,
  batchControl: batchControlParams,
  list: listParams,
  get: getParams,
  output: outputParams,
  health: emptyParams,
  stats: emptyParams,
} as const;

export type Method = keyof typeof METHOD_PARAMS;
export const METHODS = Object.keys(METHOD_PARAMS) as Method[];

export type SpawnParams = z.input<typeof spawnParams>;
export type ControlParams = z.input<typeof controlParams>;
export type BatchControlParams = z.input<typeof batchControlParams>;
export type ListParams = z.input<typeof listParams>;
export type GetParams = z.input<typeof getParams>;
export type OutputParams = z.input<typeof outputParams>;

export interface BatchControlResult {
  readonly results: ReadonlyArray<{
    readonly agentId: string;
    readonly ok: boolean;
    readonly agent?: AgentInfo;
    readonly error?: ProtocolErrorBody;
    /** True when fail-fast stopped before this agent was tried. */
    readonly skipped?: boolean;
  }>;
}

export interface ListResult {
  readonly agents: readonly AgentInfo[];
  readonly nextCursor: string | null;
  readonly total: number;
  /**
   * "cluster" when the page covers every server's agents (the cluster registry is on), so a client
   * asks one server instead of merging every server's pages; absent for this server's own agents.
   */
  readonly scope?: "cluster";
}

export interface OutputResult {
  readonly stream: OutputStream;
  readonly data: Uint8Array;
  /** Absolute offset of the first returned byte. */
  readonly offset: number;
  /** Offset to ask for next. */
  readonly nextOffset: number;
  /** Bytes dropped by the cap so far; offsets below this are gone. */
  readonly dropped: number;
  /** True when the agent has ended and nextOffset is the end of the stream. */
  readonly eof: boolean;
  /**
   * With `times: true`: `[offset, timeMs]` pairs, by rising offset, saying when the bytes from each
   * offset on were written; the first covers `offset`. Times may be coarser than each write for agents
   * that wrote many times (the server keeps a bounded number per stream).
   */
  readonly times?: ReadonlyArray<readonly [number, number]>;
}

export interface HealthResult {
  readonly healthy: boolean;
  readonly ready: boolean;
  readonly draining: boolean;
  readonly serverId: string;
  readonly version: string;
  readonly protocolVersion: number;
  readonly uptimeMs: number;
  readonly activeAgents: number;
  readonly maxAgents: number;
  /** activeAgents / maxAgents, 0..1. */
  readonly load: number;
}

export interface StatsResult {
  readonly serverId: string;
  readonly requests: Readonly<Record<string, number>>;
  readonly errors: Readonly<Record<string, number>>;
  readonly spawns: number;
  readonly spawnFailures: number;
  readonly agentsByStatus: Readonly<Record<AgentStatus, number>>;
  readonly authRejections: number;
  readonly outputBytesDropped: number;
  readonly idempotentReplays: number;
}

/** The result type of each method. */
export interface MethodResults {
  spawn: AgentInfo;
  control: AgentInfo;
  batchControl: BatchControlResult;
  list: ListResult;
  get: AgentInfo;
  output: OutputResult;
  health: HealthResult;
  stats: StatsResult;
}

/** The params type of each method, as a caller writes them (defaults optional). */
export interface MethodParams {
  spawn: SpawnParams;
  control: ControlParams;
  batchControl: BatchControlParams;
  list: ListParams;
  get: GetParams;
  output: OutputParams;
  health: Record<string, never>;
  stats: Record<string, never>;
}

export interface RequestEnvelope<M extends Method = Method> {
  readonly v: number;
  readonly id: string;
  readonly method: M;
  readonly params: MethodParams[M];
}

export type ReplyEnvelope<M extends Method = Method> =
  | { readonly v: number; readonly id: string; readonly ok: true; readonly result: MethodResults[M] }
  | { readonly v: number; readonly id: string; readonly ok: false; readonly error: ProtocolErrorBody };

/** Validated params, with defaults applied. */
export type ParsedParams<M extends Method> = z.output<(typeof METHOD_PARAMS)[M]>;

/**
 * Handles one validated request. The ZeroMQ server and NATS command intake both call this,
 * so the two paths share methods and validation.
 */
export type RequestHandler = <M extends Method>(method: M, params: unknown) => Promise<MethodResults[M]>;

/** Streamed on the PUB socket. Topic frame: `status.<agentId>` or `output.<agentId>`. */
export type StreamEvent =
  | { readonly kind: "status"; readonly agent: AgentInfo; readonly previous: AgentStatus | null }
  | {
      readonly kind: "output";
      readonly agentId: string;
      readonly stream: OutputStream;
      readonly offset: number;
      readonly data: Uint8Array;
    };

export const STREAM_TOPICS = {
  status: (agentId: string) => `status.${agentId}`,
  output: (agentId: string) => `output.${agentId}`,
  allStatus: "status.",
  allOutput: "output.",
} as const;

/** Lifecycle event types published to JetStream, in subject form. */
export const LIFECYCLE_EVENT_TYPES = [
  "spawned",
  "started",
  "paused",
  "resumed",
  "exited",
  "failed",
  "killed",
  "timed_out",
  "output_truncated",
] as const;
export type LifecycleEventType = (typeof LIFECYCLE_EVENT_TYPES)[number];

/** One lifecycle event, as the runner reports it and as published to JetStream. */
export interface LifecycleEvent {
  readonly type: LifecycleEventType;
  readonly serverId: string;
  readonly agentId: string;
  /** Per-agent sequence number, 1-based: gives ordering and a stable message id. */
  readonly seq: number;
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly agent: AgentInfo;
  /** For output_truncated: which stream and how many bytes were dropped in total. */
  readonly detail?: Readonly<Record<string, string | number>>;
}
