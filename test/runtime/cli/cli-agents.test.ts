/** The real `zeroplane` CLI against a real server process: output and exit codes. */
import { describe, expect, it } from "vitest";
import type { AgentInfo, HealthResult } from "../../../runtime/protocol/index.js";
import { useCliAgainstServer } from "./support/cli-against-server.js";

describe("zeroplane CLI: agents and their output", () => {
  const { spec, zeroplane } = useCliAgainstServer();

  it("spawns, shows, lists and prints the logs of an agent", async () => {
    const spawned = await zeroplane(
      "spawn",
      "-q",
      "--label",
      "team=cli",
      "--",
      "sh",
      "-c",
      "echo from-agent",
    );
    expect(spawned).toMatchObject({ code: 0 });
    const id = spawned.stdout.trim();
    expect(id).toMatch(/^\S+$/);

    const [shown, listed, logs] = await Promise.all([
      zeroplane("get", id),
      zeroplane("list", "--label", "team=cli"),
      zeroplane("logs", id),
    ]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^id: +${id}$`, "m"));
    expect(shown.stdout).toMatch(/^command: +sh -c echo from-agent$/m);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split("\n")[0]).toMatch(/^ID +NAME +STATUS +PID +EXIT +SERVER +AGE +COMMAND$/);
    expect(listed.stdout).toContain(id);
    expect(logs).toMatchObject({ code: 0, stdout: "from-agent\n" });
  });

  it("prints JSON for machines with --json", async () => {
    const spawned = await zeroplane("spawn", "--json", "--name", "json-agent", "--", "sleep", "30");
    const agent = JSON.parse(spawned.stdout) as AgentInfo;
    expect(agent).toMatchObject({ name: "json-agent", command: "sleep", args: ["30"], serverId: spec().id });
    const listed = JSON.parse((await zeroplane("list", "--json", "--status", "running")).stdout) as {
      agents: AgentInfo[];
    };
    expect(listed.agents.map((a) => a.id)).toContain(agent.id);
    const health = JSON.parse((await zeroplane("health", "--json")).stdout) as Array<{
      ok: boolean;
      health: HealthResult;
    }>;
    expect(health).toEqual([
      expect.objectContaining({ ok: true, health: expect.objectContaining({ serverId: spec().id }) }),
    ]);
    await zeroplane("kill", agent.id);
  });

  it("follows the logs of a running agent until it ends", async () => {
    const id = (
      await zeroplane("spawn", "-q", "--", "sh", "-c", "for i in 1 2 3; do echo tick$i; sleep 0.3; done")
    ).stdout.trim();
    const followed = await zeroplane("logs", "--follow", id);
    expect(followed).toMatchObject({ code: 0, stdout: "tick1\ntick2\ntick3\n" });
  });
});
