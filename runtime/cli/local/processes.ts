/**
 * Background processes of `zeroplane up`: started detached with their output in a log file, found
 * again by pid, and stopped only after checking that the pid is still the process we started (its
 * command line names the up directory), so a reused pid is never signalled.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Starts `command args` detached (own process group), stdout and stderr appended to `logFile`. */
export function startDetached(
  command: string,
  args: readonly string[],
  logFile: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
): number {
  const log = openSync(logFile, "a", 0o600);
  try {
    const child = spawn(command, [...args], { detached: true, stdio: ["ignore", log, log], env, cwd });
    if (child.pid === undefined) throw new Error(`cannot start ${command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/** The process's command line (arguments joined by spaces), or null when it is gone or a zombie. */
export function commandLine(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return null;
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return null;
  }
}

/** True while `pid` runs and its command line contains `marker` (the up directory). */
export function isOurs(pid: number, marker: string): boolean {
  return commandLine(pid)?.includes(marker) ?? false;
}

/** The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or null. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/** A process found by pid and start time, so a reused pid does not match. */
export interface ProcessRef {
  readonly pid: number;
  readonly startTime: string;
}

/** Every live descendant of `roots` (children, grandchildren, ...), from /proc. */
export function descendants(roots: readonly number[]): ProcessRef[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // Exited while we looked.
    }
  }
  const found: ProcessRef[] = [];
  const queue = [...roots];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      const time = startTime(child);
      if (time !== null) found.push({ pid: child, startTime: time });
      queue.push(child);
    }
  }
  return found;
}

/** True while the process of `ref` runs (same pid, same start time, not a zombie). */
export function stillRunning(ref: ProcessRef): boolean {
  return startTime(ref.pid) === ref.startTime && commandLine(ref.pid) !== null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends SIGTERM to each process that is still `running`, waits up to `graceMs` for all of them,
 * then SIGKILLs the rest and waits for them too. Resolves with the ones that needed SIGKILL.
 */
export async function stopProcesses<T extends { pid: number }>(
  processes: readonly T[],
  running: (process: T) => boolean,
  graceMs: number,
): Promise<T[]> {
  const signal = (target: T, name: NodeJS.Signals) => {
    try {
      if (running(target)) process.kill(target.pid, name);
    } catch {
      // Gone already.
    }
  };
  processes.forEach((target) => signal(target, "SIGTERM"));
  const deadline = Date.now() + graceMs;
  while (processes.some(running) && Date.now() < deadline) await sleep(50);
  const killed = processes.filter(running);
  killed.forEach((target) => signal(target, "SIGKILL"));
  const killDeadline = Date.now() + 10_000;
  while (processes.some(running) && Date.now() < killDeadline) await sleep(50);
  return killed;
}

/** A port on 127.0.0.1 that was free a moment ago (the kernel's choice for port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") return reject(new Error("no port"));
      server.close(() => resolve(address.port));
    });
  });
}

/** `count` distinct free loopback ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** The last `lines` lines of a log file ("" when unreadable). */
export function logTail(file: string, lines = 30): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}
