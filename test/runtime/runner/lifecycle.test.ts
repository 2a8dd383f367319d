/**
 * The agent status machine, driven through real child processes:
 * starting → running ⇄ paused → stopping → exited | killed | timed_out, and starting → failed.
 */
import { chmodSync } from "node:fs";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ProtocolError, type AgentStatus } from "../../../runtime/protocol/index.js";
import { LAUNCHER_MODES, useLauncherMode, RunnerHarness, alive, sleep, tempDir, waitFor } from "./helpers.js";

/** Prints 0, 1, 2… every 50 ms, forever. */
const COUNTER = ["-c", "i=0; while :; do echo $i; i=$((i+1)); sleep 0.05; done"];
/** Ignores SIGTERM (says so), so only SIGKILL ends it. */
const TERM_TRAPPER = ["-c", 'trap "echo got-term" TERM; echo ready; while :; do sleep 0.05; done'];

describe.each(LAUNCHER_MODES)("with the %s launcher", (mode) => {
  beforeAll(() => useLauncherMode(mode));

  let h: RunnerHarness;

  beforeEach(async () => {
    h = await RunnerHarness.create();
  });

  /** Spawns a shell that exits with `code` on SIGTERM, and waits until it has set that trap. */
  async function readyToExitOnTerm(code: number) {
    const info = await h.spawn({
      command: "sh",
      args: ["-c", `trap "exit ${code}" TERM; echo ready; while :; do sleep 0.05; done`],
    });
    await h.waitForOutput(info.id, "ready");
    return info;
  }

  afterEach(async () => {
    await h.dispose();
  });

  async function expectProtocolError(
    promise: Promise<unknown>,
    code: string,
    message: RegExp,
  ): Promise<void> {
    const error = await promise.then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe(code);
    expect((error as ProtocolError).message).toMatch(message);
  }

  describe("spawn", () => {
    it("starts the command in its own process group and resolves once it is running", async () => {
      const info = await h.spawn({ command: "sleep", args: ["30"], name: "sleeper", labels: { team: "a" } });
      expect(info).toMatchObject({
        status: "running",
        serverId: "test-server",
        name: "sleeper",
        command: "sleep",
        args: ["30"],
        labels: { team: "a" },
        exitCode: null,
        signal: null,
        error: null,
      });
      expect(info.pid).toBeGreaterThan(1);
      expect(info.startedAt).toBeGreaterThanOrEqual(info.createdAt);
      const stat = (await import("node:fs")).readFileSync(`/proc/${info.pid}/stat`, "utf8");
      const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
      expect(pgrp).toBe(info.pid);
    });

    it("reports exited with the exit code when the process ends by itself", async () => {
      const info = await h.spawn({ command: "sh", args: ["-c", "exit 3"] });
      const ended = await h.waitForEnd(info.id);
      expect(ended).toMatchObject({ status: "exited", exitCode: 3, signal: null });
      expect(ended.endedAt).toBeGreaterThanOrEqual(ended.startedAt ?? Infinity);
    });

    it("fails with a clear error when the command does not exist (ENOENT)", async () => {
      const info = await h.spawn({ command: "no-such-command-zp" });
      expect(info.status).toBe("failed");
      expect(info.pid).toBeNull();
      expect(info.error).toMatch(/command "no-such-command-zp" not found \(ENOENT\)/);
      expect(h.lifecycleOf(info.id).map((event) => event.type)).toEqual(["spawned", "failed"]);
    });

    it("fails with a clear error when cwd is missing, not a directory, or relative", async () => {
      const missing = await h.spawn({ command: "true", cwd: "/no/such/dir-zp" });
      expect(missing).toMatchObject({ status: "failed", cwd: "/no/such/dir-zp" });
      expect(missing.error).toMatch(/cwd "\/no\/such\/dir-zp" does not exist/);
      const file = await h.spawn({ command: "true", cwd: "/etc/hostname" });
      expect(file.error).toMatch(/is not a directory/);
      const relative = await h.spawn({ command: "true", cwd: "tmp" });
      expect(relative.error).toMatch(/not an absolute path/);
    });

    it("runs in the given cwd", async () => {
      const dir = tempDir("cwd");
      // With the separate runner, agents run as another uid: it must be able to enter the directory.
      chmodSync(dir, 0o755);
      const info = await h.spawn({ command: "pwd", cwd: dir });
      await h.waitForEnd(info.id);
      expect(h.stdout(info.id).trim()).toBe(dir);
    });

    it("refuses spawns beyond maxAgents with CAPACITY, naming the active count and the limit", async () => {
      await h.dispose();
      h = await RunnerHarness.create({ maxAgents: 2 });
      const first = await h.spawn({ command: "sleep", args: ["30"] });
      await h.spawn({ command: "sleep", args: ["30"] });
      await expectProtocolError(
        h.spawn({ command: "sleep", args: ["30"] }),
        "CAPACITY",
        /2 active agents, limit 2/,
      );
      expect(h.runner.activeCount()).toBe(2);
      await h.control({ agentId: first.id, action: "kill" });
      await h.waitForEnd(first.id);
      const third = await h.spawn({ command: "sleep", args: ["30"] });
      expect(third.status).toBe("running");
    });
  });

  describe("exit", () => {
    it("ends an agent whose escaped grandchild keeps the output pipe open", async () => {
      // setsid leaves the agent's group, so the group kill at exit cannot reach it.
      const info = await h.spawn({ command: "sh", args: ["-c", "setsid sleep 30 & echo $!"] });
      await h.waitForOutput(info.id, "\n");
      const escapee = Number(h.stdout(info.id).trim());
      try {
        expect(await h.waitForEnd(info.id)).toMatchObject({ status: "exited", exitCode: 0 });
        expect(h.output({ agentId: info.id }).eof).toBe(true);
      } finally {
        process.kill(escapee, "SIGKILL");
      }
    });
  });

  describe("pause and resume", () => {
    it("pause stops the whole group's output and resume continues it", async () => {
      const info = await h.spawn({ command: "sh", args: COUNTER });
      await h.waitForOutput(info.id, "3\n");
      const paused = await h.control({ agentId: info.id, action: "pause" });
      expect(paused.status).toBe("paused");
      expect(alive(info.pid as number)).toBe(true);
      const bytes = () => h.runner.get(info.id).outputBytes.stdout;
      // Output written just before the stop may still be in the pipe: wait until it has all arrived.
      const atPause = await waitFor("in-flight output to arrive", async () => {
        const before = bytes();
        await sleep(250);
        return bytes() === before ? before : null;
      });
      await sleep(600);
      expect(bytes()).toBe(atPause);

      const resumed = await h.control({ agentId: info.id, action: "resume" });
      expect(resumed.status).toBe("running");
      await waitFor("output to grow after resume", () => bytes() > atPause);
    });

    it("rejects resume when running and pause when paused, naming the current status", async () => {
      const info = await h.spawn({ command: "sleep", args: ["30"] });
      await expectProtocolError(
        h.control({ agentId: info.id, action: "resume" }),
        "INVALID_STATE",
        /is running; cannot resume it/,
      );
      await h.control({ agentId: info.id, action: "pause" });
      await expectProtocolError(
        h.control({ agentId: info.id, action: "pause" }),
        "INVALID_STATE",
        /is paused; cannot pause it/,
      );
    });
  });

  describe("stop, kill and signal", () => {
    it("stop sends SIGTERM to the group and the agent ends as killed by SIGTERM", async () => {
      const info = await h.spawn({ command: "sleep", args: ["30"] });
      const stopping = await h.control({ agentId: info.id, action: "stop" });
      expect(stopping.status).toBe("stopping");
      const ended = await h.waitForEnd(info.id);
      expect(ended).toMatchObject({ status: "killed", signal: "SIGTERM", exitCode: null });
    });

    it("stop of a process that exits with a code on SIGTERM ends as exited", async () => {
      const info = await readyToExitOnTerm(0);
      await h.control({ agentId: info.id, action: "stop" });
      expect(await h.waitForEnd(info.id)).toMatchObject({ status: "exited", exitCode: 0, signal: null });
    });

    it("stop escalates to SIGKILL after graceMs when the process ignores SIGTERM", async () => {
      const info = await h.spawn({ command: "sh", args: TERM_TRAPPER });
      await h.waitForOutput(info.id, "ready");
      const stoppedAt = Date.now();
      await h.control({ agentId: info.id, action: "stop", graceMs: 700 });
      await h.waitForOutput(info.id, "got-term");
      expect(h.runner.get(info.id).status).toBe("stopping");
      const ended = await h.waitForEnd(info.id);
      expect(ended).toMatchObject({ status: "killed", signal: "SIGKILL" });
      expect((ended.endedAt as number) - stoppedAt).toBeGreaterThanOrEqual(650);
    });

    it("stop of a paused agent continues it so it can act on SIGTERM", async () => {
      const info = await readyToExitOnTerm(7);
      await h.control({ agentId: info.id, action: "pause" });
      await h.control({ agentId: info.id, action: "stop", graceMs: 10_000 });
      expect(await h.waitForEnd(info.id)).toMatchObject({ status: "exited", exitCode: 7 });
    });

    it("kill sends SIGKILL to the group, paused or not", async () => {
      const info = await h.spawn({ command: "sh", args: TERM_TRAPPER });
      await h.waitForOutput(info.id, "ready");
      await h.control({ agentId: info.id, action: "pause" });
      await h.control({ agentId: info.id, action: "kill" });
      expect(await h.waitForEnd(info.id)).toMatchObject({ status: "killed", signal: "SIGKILL" });
    });

    it("signal delivers any named signal to the group without changing the status", async () => {
      const info = await h.spawn({
        command: "sh",
        args: ["-c", 'trap "echo got-usr1" USR1; echo ready; while :; do sleep 0.05; done'],
      });
      await h.waitForOutput(info.id, "ready");
      const after = await h.control({ agentId: info.id, action: "signal", signal: "SIGUSR1" });
      expect(after.status).toBe("running");
      await h.waitForOutput(info.id, "got-usr1");
      await expectProtocolError(
        h.control({ agentId: info.id, action: "signal", signal: "SIGNOPE" }),
        "BAD_REQUEST",
        /unknown signal "SIGNOPE"/,
      );
    });

    it("signal SIGSTOP and SIGCONT act as pause and resume", async () => {
      const info = await h.spawn({ command: "sleep", args: ["30"] });
      expect((await h.control({ agentId: info.id, action: "signal", signal: "SIGSTOP" })).status).toBe(
        "paused",
      );
      expect((await h.control({ agentId: info.id, action: "signal", signal: "SIGCONT" })).status).toBe(
        "running",
      );
      await h.control({ agentId: info.id, action: "signal", signal: "SIGINT" });
      expect(await h.waitForEnd(info.id)).toMatchObject({ status: "killed", signal: "SIGINT" });
    });

    it("rejects control of an ended agent with INVALID_STATE naming how it ended", async () => {
      const info = await h.spawn({ command: "sh", args: ["-c", "exit 2"] });
      await h.waitForEnd(info.id);
      for (const action of ["pause", "resume", "stop", "kill"] as const) {
        await expectProtocolError(
          h.control({ agentId: info.id, action }),
          "INVALID_STATE",
          new RegExp(`is exited with code 2; cannot ${action} it`),
        );
      }
    });

    it("rejects an unknown agent with NOT_FOUND", async () => {
      await expectProtocolError(
        h.control({ agentId: "nope", action: "stop" }),
        "NOT_FOUND",
        /no agent "nope"/,
      );
      expect(() => h.runner.get("nope")).toThrow(/no agent "nope"/);
    });
  });

  describe("stdin", () => {
    it("write sends data to stdin and end closes it", async () => {
      const info = await h.spawn({ command: "cat" });
      await h.control({ agentId: info.id, action: "write", data: "hello\n" });
      await h.waitForOutput(info.id, "hello\n");
      await h.control({
        agentId: info.id,
        action: "write",
        data: new TextEncoder().encode("bytes\n"),
        end: true,
      });
      const ended = await h.waitForEnd(info.id);
      expect(ended).toMatchObject({ status: "exited", exitCode: 0 });
      expect(h.stdout(info.id)).toBe("hello\nbytes\n");
    });

    it("rejects writes after stdin is closed, and writes to an ended agent", async () => {
      const info = await h.spawn({ command: "sleep", args: ["30"] });
      await h.control({ agentId: info.id, action: "write", end: true });
      await expectProtocolError(
        h.control({ agentId: info.id, action: "write", data: "x" }),
        "INVALID_STATE",
        /is running but its stdin is closed/,
      );
      await h.control({ agentId: info.id, action: "kill" });
      await h.waitForEnd(info.id);
      await expectProtocolError(
        h.control({ agentId: info.id, action: "write", data: "x" }),
        "INVALID_STATE",
        /is killed by SIGKILL; cannot write to it/,
      );
    });
  });

  describe("timeout", () => {
    it("stops an agent that outlives timeoutMs and ends it as timed_out", async () => {
      const info = await h.spawn({ command: "sleep", args: ["30"], timeoutMs: 300 });
      expect(info.timeoutMs).toBe(300);
      const ended = await h.waitForEnd(info.id);
      expect(ended).toMatchObject({ status: "timed_out", signal: "SIGTERM" });
    });

    it("escalates to SIGKILL when a timed-out agent ignores SIGTERM", async () => {
      await h.dispose();
      h = await RunnerHarness.create({ stopGraceMs: 300 });
      const info = await h.spawn({ command: "sh", args: TERM_TRAPPER, timeoutMs: 300 });
      const ended = await h.waitForEnd(info.id);
      expect(ended).toMatchObject({ status: "timed_out", signal: "SIGKILL" });
      expect(h.stdout(info.id)).toContain("got-term");
    });

    it("does not fire for an agent that ends in time", async () => {
      const info = await h.spawn({ command: "true", timeoutMs: 10_000 });
      expect(await h.waitForEnd(info.id)).toMatchObject({ status: "exited", exitCode: 0 });
    });
  });

  describe("events", () => {
    it("emits lifecycle events with a per-agent seq from 1, in order, each with a full snapshot", async () => {
      const info = await h.spawn({ command: "sleep", args: ["30"] });
      await h.control({ agentId: info.id, action: "pause" });
      await h.control({ agentId: info.id, action: "resume" });
      await h.control({ agentId: info.id, action: "kill" });
      await h.waitForEnd(info.id);
      const events = h.lifecycleOf(info.id);
      expect(events.map((event) => [event.seq, event.type, event.agent.status])).toEqual([
        [1, "spawned", "starting"],
        [2, "started", "running"],
        [3, "paused", "paused"],
        [4, "resumed", "running"],
        [5, "killed", "killed"],
      ]);
      for (const [index, event] of events.entries()) {
        expect(event.serverId).toBe("test-server");
        expect(event.agent.id).toBe(info.id);
        if (index > 0)
          expect(event.time).toBeGreaterThanOrEqual((events[index - 1] as (typeof events)[0]).time);
      }
    });

    it("emits a status stream event for every transition, each naming the previous status", async () => {
      const info = await h.spawn({ command: "sleep", args: ["30"] });
      await h.control({ agentId: info.id, action: "stop" });
      await h.waitForEnd(info.id);
      const transitions = h.stream.flatMap((event) =>
        event.kind === "status" && event.agent.id === info.id ? [[event.previous, event.agent.status]] : [],
      );
      expect(transitions).toEqual<Array<[AgentStatus | null, AgentStatus]>>([
        [null, "starting"],
        ["starting", "running"],
        ["running", "stopping"],
        ["stopping", "killed"],
      ]);
    });

    it("keeps counts by status and the active count in step with transitions", async () => {
      const running = await h.spawn({ command: "sleep", args: ["30"] });
      const paused = await h.spawn({ command: "sleep", args: ["30"] });
      await h.control({ agentId: paused.id, action: "pause" });
      const done = await h.spawn({ command: "true" });
      await h.waitForEnd(done.id);
      await h.spawn({ command: "no-such-command-zp" });
      expect(h.runner.countsByStatus()).toMatchObject({
        running: 1,
        paused: 1,
        exited: 1,
        failed: 1,
        starting: 0,
      });
      expect(h.runner.activeCount()).toBe(2);
      await h.control({ agentId: running.id, action: "kill" });
      await h.waitForEnd(running.id);
      expect(h.runner.activeCount()).toBe(1);
    });
  });

  describe("stopAll and close", () => {
    it("stopAll stops every active agent, escalating for those that ignore SIGTERM", async () => {
      const plain = await h.spawn({ command: "sleep", args: ["30"] });
      const trapper = await h.spawn({ command: "sh", args: TERM_TRAPPER });
      const paused = await h.spawn({ command: "sleep", args: ["30"] });
      await h.control({ agentId: paused.id, action: "pause" });
      await h.waitForOutput(trapper.id, "ready");
      await h.runner.stopAll(500);
      expect(h.runner.activeCount()).toBe(0);
      expect(h.runner.get(plain.id)).toMatchObject({ status: "killed", signal: "SIGTERM" });
      expect(h.runner.get(trapper.id)).toMatchObject({ status: "killed", signal: "SIGKILL" });
      expect(h.runner.get(paused.id)).toMatchObject({ status: "killed", signal: "SIGTERM" });
    });

    it("close does not stop running agents; they stay controllable", async () => {
      const info = await h.spawn({ command: "sleep", args: ["30"] });
      await h.runner.close();
      expect(alive(info.pid as number)).toBe(true);
      expect(h.runner.get(info.id).status).toBe("running");
      expect(alive(h.runner.watchdogPid as number)).toBe(true);
      await h.control({ agentId: info.id, action: "kill" });
      expect(await h.waitForEnd(info.id)).toMatchObject({ status: "killed", signal: "SIGKILL" });
    });

    it("close refuses new spawns and releases the watchdog when no agent is active", async () => {
      const watchdog = h.runner.watchdogPid as number;
      expect(alive(watchdog)).toBe(true);
      await h.runner.close();
      await expectProtocolError(h.spawn({ command: "true" }), "UNAVAILABLE", /runner is closed/);
      await waitFor("the watchdog to exit", () => !alive(watchdog));
    });
  });
});
