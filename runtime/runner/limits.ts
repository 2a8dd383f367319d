/**
 * Per-agent resource limits: which ones exist, the server's defaults and maxima, how they are
 * enforced (rlimits set by util-linux `prlimit` just before the agent's command is executed), and
 * how an agent that ran into one is described. See "Per-agent limits" in docs/runner.md.
 */
import { ProtocolError } from "../protocol/errors.js";

/** Where util-linux installs prlimit on Debian and in the image. */
export const PRLIMIT_PATH = "/usr/bin/prlimit";

/** Limits for one agent; an absent field is no limit. */
export interface AgentLimits {
  /** Address space (RLIMIT_AS), bytes: allocations beyond it fail. */
  readonly memoryBytes?: number;
  /** CPU time (RLIMIT_CPU), seconds: SIGXCPU at the limit, SIGKILL one second later. */
  readonly cpuSeconds?: number;
  /** Processes and threads of the agent's uid (RLIMIT_NPROC): fork fails with EAGAIN beyond it. */
  readonly maxProcesses?: number;
  /** Open file descriptors (RLIMIT_NOFILE): open fails with EMFILE beyond it. */
  readonly maxOpenFiles?: number;
}

export type LimitName = keyof AgentLimits;

/** The names used in flags, errors and docs. */
export const LIMIT_LABELS: Readonly<Record<LimitName, string>> = {
  memoryBytes: "memory",
  cpuSeconds: "cpu-seconds",
  maxProcesses: "max-processes",
  maxOpenFiles: "max-open-files",
};

const LIMIT_NAMES = Object.keys(LIMIT_LABELS) as LimitName[];

/** The server's policy: a default per limit (used when a spawn sets none) and a maximum; 0 is none. */
export interface LimitPolicy {
  readonly defaults: AgentLimits;
  readonly maxima: AgentLimits;
}

/**
 * The limits an agent runs with: the request's, else the default; a request above the maximum is
 * refused (BAD_REQUEST naming the limit, the value and the maximum).
 */
export function effectiveLimits(
  requested: AgentLimits | undefined,
  policy: LimitPolicy | undefined,
): AgentLimits {
  const limits: Partial<Record<LimitName, number>> = {};
  for (const name of LIMIT_NAMES) {
    const value = requested?.[name] ?? policy?.defaults[name];
    const max = policy?.maxima[name];
    if (value === undefined || value === 0) continue;
    if (max !== undefined && max > 0 && value > max) {
      throw new ProtocolError(
        "BAD_REQUEST",
        `limit ${LIMIT_LABELS[name]} ${formatLimit(name, value)} is above this server's maximum ` +
          `${formatLimit(name, max)}; ask for at most ${formatLimit(name, max)}`,
      );
    }
    limits[name] = value;
  }
  return limits;
}

/** True when `limits` sets anything. */
export function hasLimits(limits: AgentLimits | undefined): limits is AgentLimits {
  return limits !== undefined && LIMIT_NAMES.some((name) => limits[name] !== undefined);
}

/** prlimit's options for `limits` (soft and hard alike, except CPU: hard one second later, for SIGXCPU first). */
export function prlimitArgs(limits: AgentLimits): string[] {
  const args: string[] = [];
  if (limits.memoryBytes !== undefined) args.push(`--as=${limits.memoryBytes}`);
  if (limits.cpuSeconds !== undefined) args.push(`--cpu=${limits.cpuSeconds}:${limits.cpuSeconds + 1}`);
  if (limits.maxProcesses !== undefined) args.push(`--nproc=${limits.maxProcesses}`);
  if (limits.maxOpenFiles !== undefined) args.push(`--nofile=${limits.maxOpenFiles}`);
  return args;
}

/** The command line that runs `command` under `limits`: prlimit sets them on itself, then executes the command. */
export function limitedCommand(
  command: string,
  args: readonly string[],
  limits: AgentLimits | undefined,
): { command: string; args: string[] } {
  if (!hasLimits(limits)) return { command, args: [...args] };
  return { command: PRLIMIT_PATH, args: [...prlimitArgs(limits), "--", command, ...args] };
}

/**
 * Why an agent under `limits` ended as it did, naming the limit, or null when it ended normally or
 * no limit explains it. SIGXCPU can only come from the CPU limit; with other limits the kernel only
 * makes a call fail, so a failure end (non-zero code, SIGSEGV, SIGABRT, SIGBUS) is attributed to them.
 */
export function describeLimitEnd(
  limits: AgentLimits | undefined,
  exitCode: number | null,
  signal: string | null,
): string | null {
  if (!hasLimits(limits)) return null;
  if (signal === "SIGXCPU" && limits.cpuSeconds !== undefined) {
    return `cpu-seconds limit exceeded: the agent used ${limits.cpuSeconds} s of CPU and was killed by SIGXCPU`;
  }
  const failed =
    (exitCode !== null && exitCode !== 0) || ["SIGSEGV", "SIGABRT", "SIGBUS"].includes(signal ?? "");
  if (!failed) return null;
  const set = LIMIT_NAMES.filter((name) => name !== "cpuSeconds" && limits[name] !== undefined);
  if (set.length === 0) return null;
  const how = exitCode !== null ? `exited with code ${exitCode}` : `was killed by ${signal}`;
  const named = set.map((name) => `${LIMIT_LABELS[name]} limit ${formatLimit(name, limits[name]!)}`);
  return `the agent ${how} under its ${named.join(", ")}: a failed allocation, fork or open at the limit ends an agent like this`;
}

/** 67108864 → "64Mi" for memory; plain numbers for the others. */
export function formatLimit(name: LimitName, value: number): string {
  if (name !== "memoryBytes") return String(value);
  for (const [unit, size] of [
    ["Gi", 1024 ** 3],
    ["Mi", 1024 ** 2],
    ["Ki", 1024],
  ] as const) {
    if (value % size === 0) return `${value / size}${unit}`;
  }
  return `${value} bytes`;
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  k: 1000,
  ki: 1024,
  m: 1000 ** 2,
  mi: 1024 ** 2,
  g: 1000 ** 3,
  gi: 1024 ** 3,
};

/** Parses a size such as "64Mi", "512M", "1Gi" or "1048576" into bytes; throws a RangeError naming the fix. */
export function parseSize(text: string): number {
  const match = /^(\d+)\s*([kKmMgG]i?)?[bB]?$/.exec(text.trim());
  const factor = match ? SIZE_UNITS[(match[2] ?? "").toLowerCase()] : undefined;
  const bytes = match && factor !== undefined ? Number(match[1]) * factor : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new RangeError(
      `${JSON.stringify(text)} is not a size; write a positive number of bytes with an optional unit: 64Mi, 512M, 1Gi`,
    );
  }
  return bytes;
}
