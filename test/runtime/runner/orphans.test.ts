/**
 * No zombies and no orphans: agents are reaped when they end, die with the server however it dies,
 * and are killed on the next start if they somehow survived (but a reused pid is never touched).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import {
  createAgentRunner,
  readAgentRecords,
  recordsPath,
  RUNNER_INSTANCE_ENV_VAR,
  type ProcessRunner,
} from "../../../runtime/runner/index.js";
import { readProcStat } from "../../../runtime/runner/process-groups.js";
import { WATCHDOG_SCRIPT } from "../../../runtime/runner/watchdog.js";
import { RunnerHarness, alive, tempDir, waitFor } from "./helpers.js";

const HOST_SCRIPT = fileURLToPath(new URL("./fixtures/runner-host.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

interface HostReady {
  readonly type: "ready";
  readonly agentPids: number[];
  readonly grandchildPid: number;
  readonly watchdogPid: number;
}

/** A runner host started with tsx in its own node process, and the JSON lines it prints. */
class RunnerHost {
  readonly messages: Array<HostReady | { type: "watchdog"; pid: number }> = [];
  readonly child: ChildProcess;

  constructor(readonly stateDir: string) {
    this.child = spawn(process.execPath, ["--import", "tsx", HOST_SCRIPT, stateDir], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on("line", (line) =>
      this.messages.push(JSON.parse(line) as HostReady),
    );
  }

  ready(): Promise<HostReady> {
    return waitFor(
      "the runner host to spawn its agents",
      () => this.messages.find((message): message is HostReady => message.type === "ready"),
      45_000,
    );
  }

  async sigkill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGKILL");
    await exited;
  }
}

const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track(pids: readonly number[]): void {
  cleanups.push(() => {
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone, as it should be
      }
    }
  });
}

function startHost(): RunnerHost {
  const stateDir = tempDir("host");
  const host = new RunnerHost(stateDir);
  cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
  cleanups.push(() => host.sigkill());
  return host;
}

/** Our children that have died but were not reaped. */
function zombieChildren(): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      const stat = readProcStat(Number(entry));
      return stat && stat.ppid === process.pid && stat.state === "Z" ? [Number(entry)] : [];
    });
}

describe("no zombies", () => {
  it("reaps every agent, and kills what an agent left running in its group when it exits", async () => {
    const h = await RunnerHarness.create();
    cleanups.push(() => h.dispose());
    const quick = await Promise.all(
      Array.from({ length: 20 }, (_, index) => h.spawn({ command: "sh", args: ["-c", `exit ${index % 3}`] })),
    );
    // Starts a background grandchild, prints its pid, and exits at once.
    const forker = await h.spawn({ command: "sh", args: ["-c", "sleep 1000 & echo $!"] });
    for (const agent of [...quick, forker]) await h.waitForEnd(agent.id);

    const grandchild = Number(h.stdout(forker.id).trim());
    track([grandchild]);
    expect(grandchild).toBeGreaterThan(1);
    await waitFor("the forker's grandchild to be killed", () => !alive(grandchild));
    await waitFor("no zombie children", () => zombieChildren().length === 0);
    expect(zombieChildren()).toEqual([]);
    expect(h.runner.countsByStatus().exited).toBe(21);
  });
});

describe("no orphans", () => {
  it("kills every agent group, grandchildren included, when the owning process is SIGKILLed", async () => {
    const host = startHost();
    const ready = await host.ready();
    const pids = [...ready.agentPids, ready.grandchildPid];
    track(pids);
    expect(pids.every(alive)).toBe(true);
    await expect(readAgentRecords(host.stateDir)).resolves.toHaveLength(ready.agentPids.length);

    await host.sigkill();
    await waitFor("every agent to die with its server", () => pids.every((pid) => !alive(pid)), 10_000);
    await waitFor("the watchdog to exit", () => !alive(ready.watchdogPid), 10_000);
  });

  it("restarts a watchdog that dies, which then still guards every agent", async () => {
    const host = startHost();
    const ready = await host.ready();
    const pids = [...ready.agentPids, ready.grandchildPid];
    track(pids);
    process.kill(ready.watchdogPid, "SIGKILL");
    const restarted = await waitFor("the host to restart its watchdog", () =>
      host.messages.find((message) => message.type === "watchdog"),
    );
    expect(restarted.type === "watchdog" && restarted.pid !== ready.watchdogPid).toBe(true);

    await host.sigkill();
    await waitFor("every agent to die with its server", () => pids.every((pid) => !alive(pid)), 10_000);
  });

  it("refuses a stateDir that a live runner owns", async () => {
    const host = startHost();
    const ready = await host.ready();
    track([...ready.agentPids, ready.grandchildPid]);
    await expect(
      createAgentRunner({
        serverId: "second",
        maxAgents: 1,
        outputCapBytes: 1024,
        retentionMs: 1000,
        stopGraceMs: 1000,
        stateDir: host.stateDir,
      }),
    ).rejects.toThrow(/is in use by a live runner \(pid \d+\)/);
  });
});

describe("the watchdog program", () => {
  it("on EOF kills the groups still registered, and only those", async () => {
    const guarded = spawn("sh", ["-c", "sleep 1000 & wait"], { detached: true, stdio: "ignore" });
    const released = spawn("sleep", ["1000"], { detached: true, stdio: "ignore" });
    const pids = [guarded.pid as number, released.pid as number];
    track(pids);
    const watchdog = spawn(process.execPath, ["-e", WATCHDOG_SCRIPT], {
      stdio: ["pipe", "ignore", "inherit"],
    });
    const exited = new Promise((resolve) => watchdog.once("exit", resolve));
    watchdog.stdin?.write(`+${pids[0]}\n+${pids[1]}\n`);
    watchdog.stdin?.write(`-${pids[1]}\n`);
    watchdog.stdin?.end();
    await exited;
    await waitFor("the registered group to die", () => !alive(pids[0] as number));
    expect(alive(pids[1] as number)).toBe(true);
  });

  it("on EOF also kills the groups of processes marked with its instance id, and no others", async () => {
    const instanceId = "0123456789abcdef";
    const marked = (id: string) =>
      spawn("sh", ["-c", "sleep 1000 & wait"], {
        detached: true,
        stdio: "ignore",
        env: { PATH: process.env.PATH, [RUNNER_INSTANCE_ENV_VAR]: id },
      });
    const ours = marked(instanceId);
    // Same prefix, different instance: a whole-entry match only.
    const other = marked(`${instanceId}0`);
    const pids = [ours.pid as number, other.pid as number];
    track(pids);
    // The groups too: each sh has a sleep of its own.
    track(pids.map((pid) => -pid));
    await waitFor("both to run with their environment", () =>
      pids.every((pid) => readFileSync(`/proc/${pid}/environ`, "utf8").includes(RUNNER_INSTANCE_ENV_VAR)),
    );
    const watchdog = spawn(process.execPath, ["-e", WATCHDOG_SCRIPT, instanceId], {
      stdio: ["pipe", "ignore", "inherit"],
    });
    const exited = new Promise((resolve) => watchdog.once("exit", resolve));
    watchdog.stdin?.end();
    await exited;
    await waitFor("the marked group to die", () => !alive(pids[0] as number));
    expect(alive(pids[1] as number)).toBe(true);
  });
});

describe("reaping on restart", () => {
  async function openRunner(stateDir: string): Promise<ProcessRunner> {
    const runner = await createAgentRunner({
      serverId: "restarted",
      maxAgents: 10,
      outputCapBytes: 1024,
      retentionMs: 1000,
      stopGraceMs: 1000,
      stateDir,
    });
    cleanups.push(() => runner.close());
    return runner;
  }

  it("kills the agents a crashed server left behind, found through the stateDir records", async () => {
    const host = startHost();
    const ready = await host.ready();
    const pids = [...ready.agentPids, ready.grandchildPid];
    track([...pids, ready.watchdogPid]);
    // Freeze the watchdog so the crash really leaves orphans behind.
    process.kill(ready.watchdogPid, "SIGSTOP");
    await host.sigkill();
    expect(pids.every(alive)).toBe(true);

    const runner = await openRunner(host.stateDir);
    expect(runner.reapedAtStartup.reaped.map((record) => record.pid).sort()).toEqual(
      [...ready.agentPids].sort(),
    );
    await waitFor("the orphans to be dead", () => pids.every((pid) => !alive(pid)), 10_000);
    await expect(readAgentRecords(host.stateDir)).resolves.toEqual([]);
  });

  it("never kills a process whose pid merely matches a record (different start time)", async () => {
    const stateDir = tempDir("reuse");
    cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
    const bystander = spawn("sleep", ["1000"], { detached: true, stdio: "ignore" });
    const pid = bystander.pid as number;
    track([pid]);
    const realStart = readProcStat(pid)?.startTime;
    expect(realStart).toBeDefined();
    await openRunner(stateDir).then((runner) => runner.close());
    cleanups.pop();
    writeFileSync(
      recordsPath(stateDir),
      JSON.stringify({
        version: 1,
        owner: { pid: 2 ** 22 + 1, startTime: "1" },
        agents: [{ agentId: "old", pid, startTime: String(Number(realStart) - 1) }],
      }),
    );

    const runner = await openRunner(stateDir);
    expect(runner.reapedAtStartup).toEqual({ reaped: [], skipped: 1, strays: [] });
    expect(alive(pid)).toBe(true);
  });
});
