/**
 * Finding and killing a runner's agents by the instance marker in their environment, for agents that
 * no registration names: forked in the instant before the server died, before the watchdog or the
 * records heard of them. A restarted server sweeps its predecessor's marker (records.ts); the watchdog
 * program carries its own copy of this logic (watchdog.ts), as it must depend on nothing.
 *
 * /proc/<pid>/environ is the environment the process was started with (exec'd with), which the
 * agent's descendants inherit unless they drop it on purpose. Only processes of this uid are read.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { RUNNER_INSTANCE_ENV_VAR } from "./agent-env.js";
import { readProcStat, signalGroup } from "./process-groups.js";

/** A sweep scans again while it finds processes it has not killed yet (forked meanwhile), this often at most. */
const MAX_SWEEP_ROUNDS = 20;

export interface MarkedProcess {
  readonly pid: number;
  /** Its process group when found: the agent's group, or the group it made for itself. */
  readonly pgrp: number;
  /** With the pid, identifies the process for good (/proc/<pid>/stat field 22). */
  readonly startTime: string;
}

/** The exact environ entry that marks runner instance `instanceId`'s agents, NUL-terminated. */
export function markerEntry(instanceId: string): Buffer {
  return Buffer.from(`${RUNNER_INSTANCE_ENV_VAR}=${instanceId}\0`);
}

/** True when the NUL-separated `environ` holds `entry` as a whole entry (not the tail of another). */
export function environHasEntry(environ: Buffer, entry: Buffer): boolean {
  for (let at = environ.indexOf(entry); at !== -1; at = environ.indexOf(entry, at + 1)) {
    if (at === 0 || environ[at - 1] === 0) return true;
  }
  return false;
}

/**
 * Live processes of this uid (this process excepted) whose environment carries `instanceId`'s marker.
 * The start time is read before and after the environment: a pid that changed hands meanwhile is skipped.
 */
export function findMarkedProcesses(instanceId: string): MarkedProcess[] {
  const entry = markerEntry(instanceId);
  const uid = process.getuid?.();
  const found: MarkedProcess[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return found; // No /proc: nothing can be swept (the watchdog and records still work).
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      if (uid !== undefined && statSync(`/proc/${name}`).uid !== uid) continue;
      const before = readProcStat(pid);
      if (!before || before.state === "Z" || before.state === "X") continue;
      if (!environHasEntry(readFileSync(`/proc/${name}/environ`), entry)) continue;
      const after = readProcStat(pid);
      if (after && after.startTime === before.startTime) {
        found.push({ pid, pgrp: after.pgrp, startTime: after.startTime });
      }
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/**
 * SIGKILLs every process carrying `instanceId`'s marker, and its process group (so unmarked members
 * of an agent's group go too), scanning again until a scan finds nothing new. Returns what it killed.
 */
export function sweepMarkedProcesses(instanceId: string): MarkedProcess[] {
  const ownGroup = readProcStat(process.pid)?.pgrp ?? process.pid;
  const killed = new Map<string, MarkedProcess>();
  for (let round = 0; round < MAX_SWEEP_ROUNDS; round++) {
    const fresh = findMarkedProcesses(instanceId).filter(
      (marked) => !killed.has(`${marked.pid}:${marked.startTime}`),
    );
    if (fresh.length === 0) break;
    for (const marked of fresh) {
      killed.set(`${marked.pid}:${marked.startTime}`, marked);
      try {
        if (marked.pgrp > 1 && marked.pgrp !== ownGroup) signalGroup(marked.pgrp, "SIGKILL");
        process.kill(marked.pid, "SIGKILL");
      } catch {
        // Already gone with its group (ESRCH), or no longer ours (EPERM).
      }
    }
  }
  return [...killed.values()];
}
