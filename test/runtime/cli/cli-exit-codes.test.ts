/**
 * Exit codes scripts can rely on, from the real CLI against a real server: `spawn` follows
 * `docker run`, `batch --label` acts only on agents that are still alive, usage errors blame the
 * right thing (as JSON with --json), and every help page lists the exit codes.
 */
import { describe, expect, it } from "vitest";
import { SPAWN_EXIT_CODES } from "../../../runtime/cli/agent-exit.js";
import { EXIT_CODES } from "../../../runtime/cli/shared.js";
import type { BatchControlResult } from "../../../runtime/protocol/index.js";
import { useCliAgainstServer } from "./support/cli-against-server.js";
import { runCli } from "./support/run-cli.js";

describe("zeroplane spawn exit codes", () => {
  const { zeroplane } = useCliAgainstServer();

  it("exits 0 once the agent has started, without --wait", async () => {
    const result = await zeroplane("spawn", "-q", "--", "sh", "-c", "exit 3");
    expect(result.code).toBe(0);
  });

  it("exits with the agent's own code with --wait", async () => {
    const result = await zeroplane("spawn", "-q", "--wait", "--", "sh", "-c", "exit 3");
    expect(result.code).toBe(3);
  });

  it("exits 128+N when signal N ended the agent", async () => {
    const result = await zeroplane("spawn", "-q", "--wait", "--", "sh", "-c", "kill -TERM $$");
    expect(result.code).toBe(SPAWN_EXIT_CODES.signalBase + 15);
  });

  it("exits 124 when --agent-timeout ended the agent", async () => {
    const result = await zeroplane("spawn", "-q", "--wait", "--agent-timeout", "300", "--", "sleep", "30");
    expect(result.code).toBe(SPAWN_EXIT_CODES.timedOut);
  });

  it("exits 127 when the command does not exist, and 126 when it cannot start", async () => {
    const [missing, badCwd] = await Promise.all([
      zeroplane("spawn", "-q", "--", "/nonexistent/agent-command"),
      zeroplane("spawn", "-q", "--cwd", "/nonexistent-dir", "--", "true"),
    ]);
    expect(missing.code).toBe(SPAWN_EXIT_CODES.notFound);
    expect(missing.stderr).toMatch(
      /the agent could not start: command "\/nonexistent\/agent-command" not found/,
    );
    expect(badCwd.code).toBe(SPAWN_EXIT_CODES.cannotStart);
    expect(badCwd.stderr).toMatch(/the agent could not start: cwd "\/nonexistent-dir" does not exist/);
  });

  it("`batch stop --label` leaves out agents that already ended", async () => {
    const ended = await zeroplane("spawn", "-q", "--wait", "--label", "group=batch-ended", "--", "true");
    const alive = await zeroplane("spawn", "-q", "--label", "group=batch-ended", "--", "sleep", "30");
    expect([ended.code, alive.code]).toEqual([0, 0]);
    const result = await zeroplane("batch", "stop", "--label", "group=batch-ended", "--grace", "1000");
    expect(result.code, result.stdout + result.stderr).toBe(EXIT_CODES.ok);
    expect(result.stderr).toContain("left out 1 agent(s) that already ended");
    expect(result.stdout).toContain(alive.stdout.trim());
    expect(result.stdout).not.toContain(ended.stdout.trim());

    const json = await zeroplane(
      "batch",
      "kill",
      "--json",
      "--label",
      "group=batch-ended",
      "--status",
      "exited",
    );
    const results = (JSON.parse(json.stdout) as BatchControlResult).results;
    expect(results.map((r) => r.agentId)).toEqual([ended.stdout.trim()]);
  });
});

describe("zeroplane usage errors", () => {
  it("hints to put -- before an agent's flags", async () => {
    const result = await runCli(["spawn", "ls", "-la"]);
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toContain('--label expects key=value, got "a"');
    expect(result.stderr).toContain(
      "Hint: if -la is meant for the agent's command, put -- before the command: zeroplane spawn [options] -- <command> -la",
    );
  });

  it("prints usage errors as one JSON document on stderr with --json", async () => {
    const [unknownFlag, badValue] = await Promise.all([
      runCli(["list", "--json", "--no-such-flag"]),
      runCli(["list", "--json", "--timeout", "0"]),
    ]);
    for (const result of [unknownFlag, badValue]) {
      expect(result.code).toBe(EXIT_CODES.usage);
      expect(result.stdout).toBe("");
      const { error } = JSON.parse(result.stderr) as {
        error: { kind: string; exitCode: number; message: string };
      };
      expect(error).toMatchObject({ kind: "usage", exitCode: EXIT_CODES.usage });
    }
    expect(unknownFlag.stderr).toContain("unknown option '--no-such-flag'");
    expect(badValue.stderr).toContain('--timeout must be a whole number above 0, got \\"0\\"');
  });

  it("refuses a misspelled ZEROPLANE_* variable, naming the closest one, as the server does", async () => {
    const result = await runCli(["list"], { env: { ZEROPLANE_ENDPOINT: "tcp://127.0.0.1:1" } });
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toContain(
      "unknown environment variable ZEROPLANE_ENDPOINT. Fix: remove it, or use ZEROPLANE_ENDPOINTS if that is what you meant",
    );
  });

  it("lists the exit codes on every help page, and spawn's own on its page", async () => {
    const [program, list, spawn] = await Promise.all([
      runCli(["--help"]),
      runCli(["list", "--help"]),
      runCli(["spawn", "--help"]),
    ]);
    for (const page of [program, list, spawn]) {
      expect(page.code).toBe(0);
      expect(page.stdout).toMatch(
        /Exit codes:\n {2}0 {2}success\n {2}1 {2}the server answered with an error/,
      );
      expect(page.stdout).toContain("3  no server reachable");
    }
    expect(spawn.stdout).toMatch(/Exit codes of spawn \(like docker run\):/);
    expect(spawn.stdout).toMatch(/128\+N +with --wait: signal N ended the agent/);
    expect(spawn.stdout).toMatch(/127 +the agent's command was not found/);
  });
});
