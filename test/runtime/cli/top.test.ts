/**
 * `zeroplane top`: the screen as a pure function of a snapshot, then the live command against a real
 * server, once through a pipe (--iterations) and once in a real terminal (tmux), where it repaints in place.
 */
import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import type { ServerOutcome } from "../../../runtime/client/index.js";
import type { AgentInfo, HealthResult, StatsResult } from "../../../runtime/protocol/index.js";
import { renderTop } from "../../../runtime/cli/top.js";
import { waitFor } from "../../support/wait.js";
import { useCliAgainstServer } from "./support/cli-against-server.js";
import { cleanEnv, cliMain, repoRoot } from "./support/run-cli.js";

const NOW = Date.UTC(2026, 0, 31, 12, 0, 0);

function health(serverId: string, active: number, load: number): ServerOutcome<HealthResult> {
  return {
    endpoint: `tcp://127.0.0.1:${serverId === "a" ? 7001 : 7002}`,
    serverId,
    ok: true,
    result: {
      healthy: true,
      ready: true,
      draining: false,
      serverId,
      version: "0.1.0",
      protocolVersion: 1,
      uptimeMs: 120_000,
      activeAgents: active,
      maxAgents: 10,
      load,
    },
  };
}

function stats(serverId: string, running: number, exited: number): ServerOutcome<StatsResult> {
  const agentsByStatus = {
    starting: 0,
    running,
    paused: 0,
    stopping: 0,
    exited,
    failed: 0,
    killed: 0,
    timed_out: 0,
    lost: 0,
  };
  return {
    endpoint: "",
    serverId,
    ok: true,
    result: {
      serverId,
      requests: {},
      errors: {},
      spawns: running + exited,
      spawnFailures: 0,
      agentsByStatus,
      authRejections: 0,
      outputBytesDropped: 0,
      idempotentReplays: 0,
    },
  };
}

function agent(id: string, status: AgentInfo["status"], createdAt: number): AgentInfo {
  return { id, status, serverId: "a", createdAt, command: "sleep", args: ["30"] } as unknown as AgentInfo;
}

describe("zeroplane top: the screen", () => {
  it("shows servers with load, agents by status, newest agents first and recent events newest first", () => {
    const screen = renderTop({
      now: NOW,
      intervalMs: 2000,
      health: [
        health("a", 3, 0.3),
        { endpoint: "tcp://127.0.0.1:7002", serverId: null, ok: false, error: new Error("gone") },
      ],
      stats: [stats("a", 3, 4)],
      agents: [agent("old", "exited", NOW - 3_600_000), agent("new", "running", NOW - 5_000)],
      events: [
        { time: NOW - 2000, agentId: "new", serverId: "a", previous: null, status: "starting" },
        { time: NOW - 1000, agentId: "new", serverId: "a", previous: "starting", status: "running" },
      ],
    });
    const lines = screen.split("\n");
    expect(lines[0]).toBe(
      "zeroplane top  2026-01-31T12:00:00.000Z  servers 1/2 up  agents 7  (every 2 s; Ctrl-C quits)",
    );
    expect(screen).toMatch(/^a +tcp:\/\/127\.0\.0\.1:7001 +ready +3\/10 +\[###\.{7}\] 30% +2m$/m);
    expect(screen).toMatch(/^- +tcp:\/\/127\.0\.0\.1:7002 +unreachable +- +- +-$/m);
    expect(screen).toContain("AGENTS BY STATUS  running 3  exited 4\n");
    const newIndex = lines.findIndex((line) => line.startsWith("new "));
    const oldIndex = lines.findIndex((line) => line.startsWith("old "));
    expect(newIndex).toBeGreaterThan(0);
    expect(oldIndex).toBeGreaterThan(newIndex);
    expect(lines[newIndex]).toMatch(/^new +running +a +5s +sleep 30$/);
    expect(screen).toContain(
      "RECENT EVENTS\n  11:59:59  new  a  starting -> running\n  11:59:58  new  a  - -> starting\n",
    );
  });

  it("says so when there is nothing yet", () => {
    const screen = renderTop({
      now: NOW,
      intervalMs: 500,
      health: [health("a", 0, 0)],
      stats: [],
      agents: [],
      events: [],
    });
    expect(screen).toContain("AGENTS BY STATUS  none");
    expect(screen).toContain("NEWEST AGENTS  none");
    expect(screen).toContain("RECENT EVENTS  none since top started");
  });
});

describe("zeroplane top: live", () => {
  const { spec, zeroplane } = useCliAgainstServer();
  const socket = `zp-top-${process.pid}`;
  const tmux = (...args: string[]) =>
    spawnSync("tmux", ["-L", socket, "-f", "/dev/null", ...args], { encoding: "utf8", env: cleanEnv() });
  afterAll(() => {
    tmux("kill-server");
  });

  it("--iterations repaints that many times and exits 0 (no terminal codes into a pipe)", async () => {
    const result = await zeroplane("top", "--iterations", "2", "--interval", "200");
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.match(/^zeroplane top /gm)).toHaveLength(2);
    expect(result.stdout).not.toContain("\x1b[");
    expect(result.stdout).toMatch(/ ready +0\/\d+ /);
  }, 60_000);

  it("in a terminal (tmux) repaints in place and shows a new agent and its status changes", async () => {
    expect(spawnSync("sh", ["-c", "command -v tmux"]).status, "tmux is installed here").toBe(0);
    const { endpoint, publishEndpoint } = spec();
    const command = [
      `cd ${repoRoot} &&`,
      `exec env XDG_CONFIG_HOME=/nonexistent`,
      process.execPath,
      "--import tsx",
      cliMain,
      `top --endpoint ${endpoint} --publish-endpoint ${publishEndpoint} --interval 300`,
    ].join(" ");
    const started = tmux("new-session", "-d", "-s", "top", "-x", "160", "-y", "50", command);
    expect(started.status, started.stderr).toBe(0);
    const pane = () => tmux("capture-pane", "-p", "-t", "top").stdout;
    await waitFor("top to paint", () => pane().includes("zeroplane top "), 30_000);
    const spawned = await zeroplane("spawn", "-q", "--", "sleep", "30");
    const id = spawned.stdout.trim();
    const screen = await waitFor(
      "top to show the new agent running and its status changes",
      () => {
        const text = pane();
        return new RegExp(`^${id} +running `, "m").test(text) &&
          text.includes(`${id}  `) &&
          text.includes("-> running")
          ? text
          : false;
      },
      30_000,
    );
    // Repainted in place: one screen, one header, however many repaints happened.
    expect(screen.match(/zeroplane top /g)).toHaveLength(1);
    expect(screen).toMatch(/AGENTS BY STATUS .*running 1/);
    await zeroplane("kill", id);
  }, 90_000);
});
