/**
 * The server's memory budget: one byte count that agent output buffers (running and finished agents)
 * and retained agent records with their params are charged against.
 *
 * By default the budget is a fixed share of the container's memory limit (cgroup v2 `memory.max`, else
 * cgroup v1 `memory.limit_in_bytes`); without a limit, the same share of the machine's memory. The rest
 * of the limit is left for Node itself, sockets and queues. The runner decides what to evict (see
 * process-runner.ts and docs/operations.md); this module only derives the limit and keeps the counts.
 */
import { readFileSync } from "node:fs";
import { totalmem } from "node:os";
import { ENV_VARS } from "../config/index.js";

/** Share of the container (or machine) memory the budget takes when it is not configured. */
export const DEFAULT_BUDGET_SHARE = 0.3;
/** Eviction goes down to this share of the budget, so it runs once per 10% of new data, not per chunk. */
export const EVICTION_TARGET_SHARE = 0.9;
/** What one agent record costs beside its params: the Agent object, its buffers, timers and map entries. */
const RECORD_OVERHEAD_BYTES = 2048;
/** cgroup v1 reports "no limit" as a huge page-aligned number; anything above this is no limit. */
const NO_LIMIT_ABOVE = 2 ** 60;

/** Where the cgroup files are read (a test passes a directory of fake files). */
export const CGROUP_FILES = {
  v2: "/sys/fs/cgroup/memory.max",
  v1: "/sys/fs/cgroup/memory/memory.limit_in_bytes",
} as const;

export interface ResolvedBudget {
  readonly bytes: number;
  /** How the number was found, for the startup log and the docs. */
  readonly source: string;
}

/** The container's memory limit in bytes, or null when none is set (or no cgroup file is readable). */
export function containerMemoryLimit(files: { v2: string; v1: string } = CGROUP_FILES): {
  bytes: number;
  file: string;
} | null {
  for (const file of [files.v2, files.v1]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8").trim();
    } catch {
      continue;
    }
    if (text === "max") return null;
    const bytes = Number(text);
    if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes > NO_LIMIT_ABOVE) return null;
    return { bytes, file };
  }
  return null;
}

/**
 * The budget in bytes: `configured` when it is above 0, else DEFAULT_BUDGET_SHARE of the container's
 * memory limit, else of the machine's memory.
 */
export function resolveMemoryBudget(
  configured: number | undefined,
  files: { v2: string; v1: string } = CGROUP_FILES,
): ResolvedBudget {
  if (configured !== undefined && configured > 0) {
    return { bytes: configured, source: `configured (${ENV_VARS["runner.memoryBudgetBytes"]})` };
  }
  const limit = containerMemoryLimit(files);
  const share = `${DEFAULT_BUDGET_SHARE * 100}%`;
  if (limit) {
    return {
      bytes: Math.floor(limit.bytes * DEFAULT_BUDGET_SHARE),
      source: `${share} of the container memory limit ${limit.bytes} bytes (${limit.file})`,
    };
  }
  return {
    bytes: Math.floor(totalmem() * DEFAULT_BUDGET_SHARE),
    source: `${share} of the machine's ${totalmem()} bytes of memory (no container memory limit found)`,
  };
}

/** What an agent record with these params costs in memory: strings as UTF-16, plus a fixed overhead. */
export function estimateRecordBytes(params: {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly name?: string;
  readonly labels: Readonly<Record<string, string>>;
}): number {
  let chars = params.command.length + (params.cwd?.length ?? 0) + (params.name?.length ?? 0);
  for (const arg of params.args) chars += arg.length + 16;
  for (const [key, value] of Object.entries(params.labels)) chars += key.length + value.length + 32;
  return RECORD_OVERHEAD_BYTES + 2 * chars;
}

/** Kinds of retained data the budget evicts (the order is in process-runner.ts enforceBudget). */
export const EVICTION_KINDS = ["finished_output", "finished_record", "running_output"] as const;
export type EvictionKind = (typeof EVICTION_KINDS)[number];

/** The budget's figures, read by the metrics at scrape time. */
export interface MemoryBudgetStats {
  readonly limitBytes: number;
  /** How the limit was derived (ResolvedBudget.source). */
  readonly source: string;
  readonly usedBytes: number;
  readonly outputBytes: number;
  readonly recordBytes: number;
  /** Bytes evicted so far, by kind. */
  readonly evictedBytes: Readonly<Record<EvictionKind, number>>;
  /** Agent records evicted before their retention period ended. */
  readonly evictedRecords: number;
}

/** The running counts. Callers charge and release; `excess()` says how much must go. */
export class MemoryBudget {
  private output = 0;
  private records = 0;
  private readonly evicted: Record<EvictionKind, number> = {
    finished_output: 0,
    finished_record: 0,
    running_output: 0,
  };
  private evictedRecordCount = 0;

  constructor(
    readonly limitBytes: number,
    readonly source = "configured",
  ) {
    if (!Number.isSafeInteger(limitBytes) || limitBytes < 1) {
      throw new RangeError(`memory budget must be a positive integer of bytes, got ${limitBytes}`);
    }
  }

  get usedBytes(): number {
    return this.output + this.records;
  }

  /** Adds (or, negative, removes) output bytes held in memory. */
  chargeOutput(delta: number): void {
    this.output += delta;
  }

  chargeRecord(delta: number): void {
    this.records += delta;
  }

  /** True when the used bytes exceed the budget. */
  over(): boolean {
    return this.usedBytes > this.limitBytes;
  }

  /** Bytes to free to get down to the eviction target (0 when already there). */
  excess(): number {
    return Math.max(0, this.usedBytes - Math.floor(this.limitBytes * EVICTION_TARGET_SHARE));
  }

  /** Counts evicted bytes (already released through the charge methods). */
  countEviction(kind: EvictionKind, bytes: number): void {
    this.evicted[kind] += bytes;
    if (kind === "finished_record") this.evictedRecordCount++;
  }

  stats(): MemoryBudgetStats {
    return {
      limitBytes: this.limitBytes,
      source: this.source,
      usedBytes: this.usedBytes,
      outputBytes: this.output,
      recordBytes: this.records,
      evictedBytes: { ...this.evicted },
      evictedRecords: this.evictedRecordCount,
    };
  }
}
