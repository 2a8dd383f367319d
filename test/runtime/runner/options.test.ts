/**
 * createAgentRunner refuses bad options early, with the option, the value and the fix.
 */
import { describe, expect, it } from "vitest";
import { createAgentRunner } from "../../../runtime/runner/index.js";

describe("options", () => {
  const valid = {
    serverId: "s",
    maxAgents: 1,
    outputCapBytes: 1,
    retentionMs: 0,
    stopGraceMs: 1,
    stateDir: "/tmp/unused-zp",
  };

  it("rejects a bad option, naming it and the value", async () => {
    await expect(createAgentRunner({ ...valid, maxAgents: 0 })).rejects.toThrow(
      /option maxAgents must be an integer of at least 1, got 0/,
    );
    await expect(createAgentRunner({ ...valid, outputCapBytes: 1.5 })).rejects.toThrow(
      /option outputCapBytes must be an integer of at least 1, got 1.5/,
    );
  });

  it("rejects a stateDir it cannot write, naming the setting to fix", async () => {
    await expect(createAgentRunner({ ...valid, stateDir: "/etc/hostname/state" })).rejects.toThrow(
      /stateDir \/etc\/hostname\/state cannot be used for agent records \(ENOTDIR\); set runner.stateDir \(ZEROPLANE_RUNNER_STATE_DIR\)/,
    );
  });
});
