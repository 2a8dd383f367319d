/**
 * The watchdog: one small detached process per runner that kills every agent's process group
 * when the server dies, however it dies (SIGKILL and OOM included).
 *
 * The runner writes "+<pgid>" when an agent starts and "-<pgid>" when it ends, one per line, on the
 * watchdog's stdin. The kernel closes that pipe when the server exits, so the watchdog reads EOF and
 * SIGKILLs every group still registered. It remembers each leader's start time (from /proc) and skips
 * a group whose pid now belongs to a different process, so it never kills an unrelated reused pid.
 * Agents never inherit the pipe (Node opens it close-on-exec), so only the server's death closes it.
 *
 * Then it sweeps /proc for processes whose environment carries this runner's instance marker
 * (AGENT_RUNNER_INSTANCE=<id>, given as the watchdog's argument): agents forked in the instant before
 * the server died, whose "+" line was never written. The sweep cannot miss such an agent: between
 * fork and exec the child holds its own copy of the pipe's write end (close-on-exec closes it only at
 * exec), so EOF arrives only once every forked agent runs with its marked environment.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import { DEFAULT_AGENT_PATH, RUNNER_INSTANCE_ENV_VAR } from "./agent-env.js";

/**
 * The watchdog program, run with `node -e` and the runner's instance id as its argument. Plain
 * CommonJS: it must start fast and depend on nothing, so the sweep repeats marker-sweep.ts in short.
 */
export const WATCHDOG_SCRIPT = `"use strict";
process.title = "zeroplane-watchdog";
const fs = require("fs");
const instance = process.argv[1] || "";
const marker = Buffer.from("${RUNNER_INSTANCE_ENV_VAR}=" + instance + "\\0");
const groups = new Map();
function stat(pid) {
  try {
    const text = fs.readFileSync("/proc/" + pid + "/stat", "utf8");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0], pgrp: Number(fields[2]), startTime: fields[19] || null };
  } catch (_) {
    return null;
  }
}
function startTime(pid) {
  const found = stat(pid);
  return found ? found.startTime : null;
}
function killAll() {
  for (const [pgid, started] of groups) {
    const now = startTime(pgid);
    const sameLeader = started === null ? now === null : now === null || now === started;
    if (!sameLeader) continue;
    try { process.kill(-pgid, "SIGKILL"); } catch (_) {}
  }
  groups.clear();
}
function marked(environ) {
  for (let at = environ.indexOf(marker); at !== -1; at = environ.indexOf(marker, at + 1)) {
    if (at === 0 || environ[at - 1] === 0) return true;
  }
  return false;
}
const swept = new Set();
/** Kills the groups of marked processes not killed before; returns how many it found. */
function sweepOnce() {
  let fresh = 0;
  let names = [];
  try { names = fs.readdirSync("/proc"); } catch (_) {}
  for (const name of names) {
    if (!/^[0-9]+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (fs.statSync("/proc/" + name).uid !== process.getuid()) continue;
      const before = stat(name);
      if (!before || before.state === "Z" || before.state === "X") continue;
      if (!marked(fs.readFileSync("/proc/" + name + "/environ"))) continue;
      const after = stat(name);
      const key = name + ":" + before.startTime;
      if (!after || after.startTime !== before.startTime || swept.has(key)) continue;
      swept.add(key);
      fresh++;
      if (after.pgrp > 1 && after.pgrp !== process.pid) {
        try { process.kill(-after.pgrp, "SIGKILL"); } catch (_) {}
      }
      try { process.kill(Number(name), "SIGKILL"); } catch (_) {}
    } catch (_) {}
  }
  return fresh;
}
/** Sweeps until a scan finds nothing new; returns how many it killed. */
function sweep() {
  let total = 0;
  for (let round = 0, fresh = 1; instance && round < 20 && fresh > 0; round++) total += fresh = sweepOnce();
  return total;
}
let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  const lines = (pending + chunk).split("\\n");
  pending = lines.pop();
  for (const line of lines) {
    const pgid = Number(line.slice(1));
    if (!Number.isInteger(pgid) || pgid <= 1) continue;
    if (line[0] === "+") groups.set(pgid, startTime(pgid));
    else if (line[0] === "-") groups.delete(pgid);
  }
});
let finishing = false;
const finish = () => {
  if (finishing) return;
  finishing = true;
  const guarded = groups.size;
  killAll();
  if (sweep() + guarded === 0) process.exit(0);
  // Agents were running: once more a little later, for anything one forked while they were dying.
  setTimeout(() => { sweep(); process.exit(0); }, 100);
};
process.stdin.on("end", finish);
process.stdin.on("error", finish);
for (const name of ["SIGINT", "SIGHUP", "SIGPIPE"]) process.on(name, () => {});
`;

/** Restarts allowed within RESTART_WINDOW_MS before the runner gives up and relies on stateDir reaping. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
/** How long close() waits for an idle watchdog to exit. */
const CLOSE_WAIT_MS = 2_000;

export class Watchdog {
  private child: ChildProcess | null = null;
  private readonly groups = new Set<number>();
  private restarts: number[] = [];
  private closed = false;

  constructor(
    /** This runner's instance id: the watchdog also kills every process whose environment carries it. */
    private readonly instanceId: string,
    private readonly onProblem: (message: string) => void,
  ) {
    this.start();
  }

  /** The watchdog's pid, or null when it is not running. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Guards process group `pgid` from now on. */
  register(pgid: number): void {
    this.groups.add(pgid);
    this.send(`+${pgid}\n`);
  }

  /** Stops guarding `pgid` (its leader has exited and been reaped). */
  unregister(pgid: number): void {
    if (this.groups.delete(pgid)) this.send(`-${pgid}\n`);
  }

  /**
   * Lets this process exit without waiting for the watchdog. With no group registered the watchdog
   * exits now; otherwise it stays armed and kills the remaining groups when this process exits.
   */
  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return;
    // Still guarding agents: stay armed (the pipe is already unref'd, so this process can exit).
    if (this.groups.size > 0) return;
    if (child.exitCode !== null || child.signalCode !== null) return;
    // Bounded: a watchdog frozen by SIGSTOP must not hang close(); it exits on EOF once it runs again.
    const exited = new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      setTimeout(resolve, CLOSE_WAIT_MS).unref();
    });
    child.stdin?.end();
    await exited;
  }

  private start(): void {
    const child = spawn(
      process.execPath,
      ["--max-old-space-size=16", "-e", WATCHDOG_SCRIPT, this.instanceId],
      {
        detached: true,
        stdio: ["pipe", "ignore", "ignore"],
        cwd: "/",
        env: { PATH: process.env.PATH ?? DEFAULT_AGENT_PATH },
      },
    );
    this.child = child;
    child.unref();
    // The pipe must not keep the server alive; writes still go out while it runs.
    unrefPipe(child);
    child.stdin?.on("error", () => {
      // EPIPE: the watchdog died. Its exit handler restarts it.
    });
    child.on("error", (error) => this.onProblem(`watchdog could not start: ${error.message}`));
    child.on("exit", (code, signal) => this.onExit(child, code, signal));
    const replay = [...this.groups].map((pgid) => `+${pgid}\n`).join("");
    if (replay) this.send(replay);
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = null;
    if (this.closed) return;
    const now = Date.now();
    this.restarts = this.restarts.filter((time) => now - time < RESTART_WINDOW_MS);
    if (this.restarts.length >= MAX_RESTARTS) {
      this.onProblem(
        `watchdog exited (${signal ?? `code ${code}`}) ${MAX_RESTARTS} times within ${RESTART_WINDOW_MS} ms; ` +
          "not restarting it: agents will only be reaped from stateDir records when the server restarts",
      );
      return;
    }
    this.restarts.push(now);
    this.onProblem(`watchdog exited (${signal ?? `code ${code}`}); restarting it`);
    this.start();
  }

  private send(line: string): void {
    const stdin = this.child?.stdin;
    if (stdin && !stdin.destroyed && stdin.writable) stdin.write(line);
  }
}

/** A "pipe" stdio stream is a net.Socket; unref it so an idle pipe does not hold the event loop open. */
function unrefPipe(child: ChildProcess): void {
  (child.stdin as Socket | null)?.unref();
}
