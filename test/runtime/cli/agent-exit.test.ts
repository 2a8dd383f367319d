/** spawn's exit codes for an agent's end, including `lost` from the cluster registry. */
import { describe, expect, it } from "vitest";
import { spawnExitCode, SPAWN_EXIT_CODES } from "../../../runtime/cli/agent-exit.js";
import { EXIT_CODES } from "../../../runtime/cli/errors.js";
import type { AgentInfo } from "../../../runtime/protocol/index.js";

const agent = (fields: Partial<AgentInfo>): AgentInfo => ({
  id: "a1",
  serverId: "srv-a",
  name: null,
  command: "/bin/sleep",
  args: ["600"],
  cwd: null,
  labels: {},
  status: "running",
  pid: 42,
  exitCode: null,
  signal: null,
  error: null,
  timeoutMs: null,
  createdAt: 1,
  startedAt: 2,
  endedAt: null,
  outputBytes: { stdout: 0, stderr: 0 },
  droppedBytes: { stdout: 0, stderr: 0 },
  ...fields,
});

describe("spawnExitCode", () => {
  it("exits 3 with --wait for a lost agent, whose end is unknown", () => {
    expect(spawnExitCode(agent({ status: "lost" }), true)).toBe(EXIT_CODES.unreachable);
    expect(spawnExitCode(agent({ status: "lost" }), false)).toBe(0);
  });

  it("keeps the agent's own code, 124 for a timeout and 128+N for a signal", () => {
    expect(spawnExitCode(agent({ status: "exited", exitCode: 7 }), true)).toBe(7);
    expect(spawnExitCode(agent({ status: "timed_out", signal: "SIGTERM" }), true)).toBe(
      SPAWN_EXIT_CODES.timedOut,
    );
    expect(spawnExitCode(agent({ status: "killed", signal: "SIGKILL" }), true)).toBe(137);
  });
});
