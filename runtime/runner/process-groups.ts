/**
 * Signalling whole process groups, and telling a live process from a reused pid via /proc (Linux).
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { constants } from "node:os";

/** Sends `signal` to every process in group `pgid`. Returns false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

/** True when `name` is a signal this platform knows, such as "SIGUSR1". */
export function isSignalName(name: string): name is NodeJS.Signals {
  return Object.prototype.hasOwnProperty.call(constants.signals, name);
}

/** The fields of /proc/<pid>/stat the runner needs. */
export interface ProcStat {
  /** One-letter state: R, S, D, T, Z (zombie), X (dead)… */
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  /** Clock ticks since boot when the process started: with the pid, identifies one process for good. */
  readonly startTime: string;
}

/** Parses /proc/<pid>/stat text. The command name may hold spaces and parentheses, so split after the last ")". */
export function parseProcStat(text: string): ProcStat | null {
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // Fields after the name, 0-based: 0 state, 1 ppid, 2 pgrp, 19 starttime (field 22 in proc(5)).
  const [state, ppid, pgrp] = fields;
  const startTime = fields[19];
  if (state === undefined || ppid === undefined || pgrp === undefined || startTime === undefined) return null;
  return { state, ppid: Number(ppid), pgrp: Number(pgrp), startTime };
}

/** Reads /proc/<pid>/stat, or null when the process does not exist (or /proc is absent). */
export function readProcStat(pid: number): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return null;
  }
}

/** Like readProcStat, without blocking the event loop. */
export async function readProcStatAsync(pid: number): Promise<ProcStat | null> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return null;
  }
}

/** True while `pid` is a process that has not died. A zombie has died: only its parent's bookkeeping is left. */
export function isAlive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== null && stat.state !== "Z" && stat.state !== "X";
}
