/**
 * Agent records under stateDir: the second line of defence against orphans, after the watchdog.
 *
 * `<stateDir>/runner/agents.json` lists the live agents (agent id, pid = pgid, leader start time) and the
 * server that owns them. Writes are batched (one atomic rewrite per burst, never a synchronous write per
 * spawn). When a runner opens a stateDir whose previous owner is dead, it SIGKILLs every recorded group
 * whose leader is still the same process (same /proc start time), so a reused pid is never touched.
 * The file also names the owner's runner instance (written when the runner opens, before any spawn),
 * so the next owner can sweep the processes marked with it that no record names (marker-sweep.ts).
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ENV_VARS } from "../config/names.js";
import { sweepMarkedProcesses } from "./marker-sweep.js";
import { isAlive, readProcStat, readProcStatAsync, signalGroup } from "./process-groups.js";

/** How long changes are collected before one rewrite of the records file. */
const FLUSH_DELAY_MS = 50;
/** How long opening a stateDir waits for reaped groups to die. */
const REAP_WAIT_MS = 5_000;

export interface AgentRecord {
  readonly agentId: string;
  /** The leader's pid; agents run in their own group, so this is also the pgid. */
  readonly pid: number;
  /** The leader's start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  readonly startTime: string;
}

interface RecordsFile {
  readonly version: 1;
  readonly owner: { readonly pid: number; readonly startTime: string | null };
  /** The owner's runner instance id (AGENT_RUNNER_INSTANCE); absent in files of older runners. */
  readonly instanceId?: string;
  readonly agents: readonly AgentRecord[];
}

/** What opening a stateDir found from a previous run. */
export interface ReapReport {
  /** Recorded agents whose process group was still alive and has been killed. */
  readonly reaped: readonly AgentRecord[];
  /** Recorded agents already gone, or whose pid now belongs to another process (left alone). */
  readonly skipped: number;
  /**
   * Pids of processes no record named, found by the previous instance's marker and killed with their
   * groups: agents forked in the instant before the crash, or their descendants that left the group.
   */
  readonly strays: readonly number[];
}

/** stateDirs opened by runners in this process: two live runners must never share one. */
const openInThisProcess = new Set<string>();

/** The records file for `stateDir`. */
export function recordsPath(stateDir: string): string {
  return join(stateDir, "runner", "agents.json");
}

/** Reads the records file; an absent file reads as no agents. */
export async function readAgentRecords(stateDir: string): Promise<readonly AgentRecord[]> {
  return (await readRecordsFile(recordsPath(stateDir)))?.agents ?? [];
}

export class AgentRecords {
  private readonly pending = new Map<string, number>();
  /** Agents whose start time is being read by the write in progress. */
  private readonly reading = new Set<string>();
  private readonly live = new Map<string, AgentRecord>();
  private flushTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private dirty = false;
  private closed = false;

  private constructor(
    private readonly stateDir: string,
    private readonly owner: RecordsFile["owner"],
    /** This runner's instance id, recorded for the next owner to sweep. */
    readonly instanceId: string,
  ) {}

  /**
   * Takes ownership of `stateDir`: refuses if another live runner owns it, kills the agents left
   * behind by a previous owner that died, and records `instanceId` (before the runner spawns anything).
   */
  static async open(
    stateDir: string,
    instanceId: string,
  ): Promise<{ records: AgentRecords; report: ReapReport }> {
    const path = recordsPath(stateDir);
    if (openInThisProcess.has(path)) {
      throw new Error(
        `stateDir ${stateDir} is already used by another runner in this process; give each runner its own stateDir`,
      );
    }
    try {
      await mkdir(join(stateDir, "runner"), { recursive: true });
    } catch (error) {
      throw new Error(
        `stateDir ${stateDir} cannot be used for agent records (${(error as NodeJS.ErrnoException).code}); ` +
          `set runner.stateDir (${ENV_VARS["runner.stateDir"]}) to a writable directory`,
        { cause: error },
      );
    }
    const previous = await readRecordsFile(path);
    if (previous && previous.owner.pid !== process.pid && ownerIsAlive(previous.owner)) {
      throw new Error(
        `stateDir ${stateDir} is in use by a live runner (pid ${previous.owner.pid}); ` +
          "give each server its own stateDir, or stop that server first",
      );
    }
    openInThisProcess.add(path);
    try {
      const report = await reap(previous?.agents ?? [], validInstanceId(previous?.instanceId));
      const self = readProcStat(process.pid);
      const owner = { pid: process.pid, startTime: self?.startTime ?? null };
      const records = new AgentRecords(stateDir, owner, instanceId);
      await records.write();
      return { records, report };
    } catch (error) {
      openInThisProcess.delete(path);
      throw error;
    }
  }

  /** Records a started agent (written with the next batch). */
  add(agentId: string, pid: number): void {
    this.pending.set(agentId, pid);
    this.schedule();
  }

  /** Forgets an agent whose leader has exited. */
  remove(agentId: string): void {
    if (this.pending.delete(agentId) || this.reading.delete(agentId)) return;
    if (this.live.delete(agentId)) this.schedule();
  }

  /** Writes pending changes now. */
  async flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    while (this.flushing) await this.flushing;
    if (!this.dirty) return;
    this.flushing = this.write().finally(() => (this.flushing = null));
    await this.flushing;
  }

  /**
   * Writes the final state and releases the stateDir. Records of still-running agents stay on disk.
   * A write that fails (a full disk) does not fail the close: the file keeps the last state written,
   * and the next owner only kills groups whose leader has the recorded start time.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dirty = true;
    try {
      await this.flush();
    } catch {
      // See above: stale records are safe, and the watchdog kills the agents when this process exits.
    } finally {
      openInThisProcess.delete(recordsPath(this.stateDir));
    }
  }

  private schedule(): void {
    this.dirty = true;
    if (this.flushTimer || this.closed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush().catch(() => {
        // A full disk must not crash the server; the watchdog still guards the agents.
        this.dirty = true;
      });
    }, FLUSH_DELAY_MS);
    this.flushTimer.unref();
  }

  private async write(): Promise<void> {
    this.dirty = false;
    // Start times are read here, off the spawn path. An agent already gone needs no record.
    const started = [...this.pending];
    this.pending.clear();
    for (const [agentId] of started) this.reading.add(agentId);
    const stats = await Promise.all(started.map(([, pid]) => readProcStatAsync(pid)));
    started.forEach(([agentId, pid], index) => {
      const stat = stats[index];
      // Skip agents removed meanwhile: their leader has already exited.
      if (stat && stat.pgrp === pid && this.reading.delete(agentId)) {
        this.live.set(agentId, { agentId, pid, startTime: stat.startTime });
      }
      this.reading.delete(agentId);
    });
    const file: RecordsFile = {
      version: 1,
      owner: this.owner,
      instanceId: this.instanceId,
      agents: [...this.live.values()],
    };
    const path = recordsPath(this.stateDir);
    await writeFile(`${path}.tmp`, JSON.stringify(file));
    await rename(`${path}.tmp`, path);
  }
}

/** The recorded instance id if it has the shape runners write (32 hex digits), else undefined. */
function validInstanceId(value: unknown): string | undefined {
  return typeof value === "string" && /^[0-9a-f]{32}$/.test(value) ? value : undefined;
}

function ownerIsAlive(owner: RecordsFile["owner"]): boolean {
  const stat = readProcStat(owner.pid);
  return (
    stat !== null && stat.state !== "Z" && owner.startTime !== null && stat.startTime === owner.startTime
  );
}

async function readRecordsFile(path: string): Promise<RecordsFile | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as RecordsFile;
    return parsed.version === 1 && Array.isArray(parsed.agents) ? parsed : null;
  } catch {
    // A torn or foreign file: nothing trustworthy to reap. The watchdog covered the crash anyway.
    return null;
  }
}

/**
 * Kills each recorded group whose leader is still the very same process, then every process still
 * carrying the previous instance's marker (with its group), then waits for them to die.
 * A group whose leader is gone is killed too: its id cannot be reused while any member lives, so
 * whatever is left in it belongs to the old agent.
 */
async function reap(
  records: readonly AgentRecord[],
  previousInstance: string | undefined,
): Promise<ReapReport> {
  const reaped: AgentRecord[] = [];
  for (const record of records) {
    const stat = readProcStat(record.pid);
    const ours = stat === null || stat.startTime === record.startTime;
    if (ours && signalGroup(record.pid, "SIGKILL")) reaped.push(record);
  }
  const recordedGroups = new Set(records.map((record) => record.pid));
  const swept = previousInstance ? sweepMarkedProcesses(previousInstance) : [];
  const strays = swept.filter((marked) => !recordedGroups.has(marked.pgrp));
  const deadline = Date.now() + REAP_WAIT_MS;
  const stillAlive = () =>
    reaped.some((record) => isAlive(record.pid)) ||
    swept.some((marked) => isAlive(marked.pid) && readProcStat(marked.pid)?.startTime === marked.startTime);
  while (stillAlive() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { reaped, skipped: records.length - reaped.length, strays: strays.map((marked) => marked.pid) };
}
