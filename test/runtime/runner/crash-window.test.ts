/**
 * The crash window: an agent forked in the instant before the server is SIGKILLed, before the runner
 * could tell its watchdog or its records, must still die, by the watchdog or by the restarted server.
 * The host dies inside spawn every time (fixtures/crash-in-spawn-host.ts), so this is not left to luck.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { createAgentRunner, readAgentRecords } from "../../../runtime/runner/index.js";
import { alive, tempDir, waitFor } from "./helpers.js";

const HOST_SCRIPT = fileURLToPath(new URL("./fixtures/crash-in-spawn-host.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

type HostMessage =
  | { readonly type: "armed"; readonly instanceId: string; readonly watchdogPid: number }
  | { readonly type: "forked"; readonly pid: number };

const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Live processes whose environment holds AGENT_RUNNER_INSTANCE=<instanceId> (read independently of the runner). */
function processesMarkedWith(instanceId: string): number[] {
  const entry = `AGENT_RUNNER_INSTANCE=${instanceId}\0`;
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const state = readFileSync(`/proc/${name}/stat`, "utf8").split(") ")[1]?.[0];
        return state !== "Z" && `\0${readFileSync(`/proc/${name}/environ`, "latin1")}`.includes(`\0${entry}`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function killQuietly(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone, as it should be
    }
  }
}

/** Starts the host on a fresh stateDir and waits until its runner is open. */
async function armedHost() {
  const stateDir = tempDir("crash");
  cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
  const messages: HostMessage[] = [];
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", HOST_SCRIPT, stateDir], {
    cwd: REPO_ROOT,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) =>
    messages.push(JSON.parse(line) as HostMessage),
  );
  const armed = await waitFor(
    "the host's runner to open",
    () => messages.find((message) => message.type === "armed"),
    45_000,
  );
  if (armed.type !== "armed") throw new Error("unreachable");
  // Whatever the test's outcome, nothing it started may outlive it.
  cleanups.push(() => killQuietly([...processesMarkedWith(armed.instanceId), armed.watchdogPid]));

  /** Lets the host spawn; resolves with the agent's pid once the host has died inside that spawn. */
  async function crashInSpawn(): Promise<number> {
    child.stdin?.write("go\n");
    const forked = await waitFor("the host to fork its agent", () =>
      messages.find((message) => message.type === "forked"),
    );
    await exited;
    expect(child.signalCode).toBe("SIGKILL");
    if (forked.type !== "forked") throw new Error("unreachable");
    return forked.pid;
  }
  return { stateDir, armed, crashInSpawn };
}

describe("an agent forked in the instant before the server is SIGKILLed", () => {
  it("is killed by the watchdog, with its escaped grandchild, though nothing registered it", async () => {
    for (let iteration = 0; iteration < 4; iteration++) {
      const host = await armedHost();
      const agentPid = await host.crashInSpawn();
      // Neither the watchdog nor the records heard of it: the records name no agent at all.
      await expect(readAgentRecords(host.stateDir)).resolves.toEqual([]);

      await waitFor(
        `iteration ${iteration}: the unregistered agent and everything it started to die`,
        () => !alive(agentPid) && processesMarkedWith(host.armed.instanceId).length === 0,
        10_000,
      );
      await waitFor(
        `iteration ${iteration}: the watchdog to exit`,
        () => !alive(host.armed.watchdogPid),
        10_000,
      );
    }
  });

  it("is killed by the restarted server, found by its marker, when the watchdog could not act", async () => {
    for (let iteration = 0; iteration < 2; iteration++) {
      const host = await armedHost();
      // Freeze the watchdog so the crash really leaves the agent behind.
      process.kill(host.armed.watchdogPid, "SIGSTOP");
      const agentPid = await host.crashInSpawn();
      expect(alive(agentPid)).toBe(true);
      await expect(readAgentRecords(host.stateDir)).resolves.toEqual([]);

      const runner = await createAgentRunner({
        serverId: "restarted",
        maxAgents: 1,
        outputCapBytes: 1024,
        retentionMs: 1000,
        stopGraceMs: 1000,
        stateDir: host.stateDir,
      });
      cleanups.push(() => runner.close());
      expect(runner.reapedAtStartup.reaped).toEqual([]);
      expect(runner.reapedAtStartup.strays).toContain(agentPid);
      expect(runner.instanceId).not.toBe(host.armed.instanceId);
      await waitFor(
        `iteration ${iteration}: the orphan and everything it started to die`,
        () => !alive(agentPid) && processesMarkedWith(host.armed.instanceId).length === 0,
        10_000,
      );
    }
  });
});
