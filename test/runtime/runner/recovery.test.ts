/**
 * A server outlives its runner: when the separate runner process dies, its agents die with it and are
 * reported killed, and the server starts a new runner and spawns again without a restart.
 */
import { afterEach, expect, it } from "vitest";
import { readProcStat } from "../../../runtime/runner/process-groups.js";
import { RunnerHarness, alive, waitFor } from "./helpers.js";

let h: RunnerHarness | null = null;

afterEach(async () => {
  await h?.dispose();
  h = null;
});

it("reports the agents of a dead runner as killed, then spawns on a new runner", async () => {
  h = await RunnerHarness.create({ isolation: { mode: "process" } });
  const harness = h;
  const agent = await harness.spawn({ command: "sleep", args: ["60"] });
  expect(agent.status).toBe("running");
  const firstInstance = harness.runner.instanceId;
  // The watchdog is the runner's child: its parent is the runner process.
  const runnerPid = readProcStat(harness.runner.watchdogPid!)!.ppid;
  expect(readProcStat(agent.pid!)!.ppid).toBe(runnerPid);

  process.kill(runnerPid, "SIGKILL");
  expect(await harness.waitForEnd(agent.id)).toMatchObject({ status: "killed", signal: "SIGKILL" });
  await waitFor("the agent process to be gone", () => !alive(agent.pid!));

  await waitFor("a new runner", () => harness.runner.instanceId !== firstInstance);
  const next = await harness.spawn({ command: "sh", args: ["-c", "echo again"] });
  expect(next.status).not.toBe("failed");
  expect(await harness.waitForEnd(next.id)).toMatchObject({ status: "exited", exitCode: 0 });
  expect(harness.stdout(next.id)).toBe("again\n");
});
