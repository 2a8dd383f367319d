/** The real `zeroplane` CLI against a real server process: output and exit codes. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentInfo, HealthResult } from "../../../runtime/protocol/index.js";
import { EXIT_CODES } from "../../../runtime/cli/shared.js";
import { ServerPool, serverSpecs, type TestServerSpec } from "../client/support/servers.js";
import { runCli } from "./support/run-cli.js";

describe("zeroplane CLI commands against a server", () => {
  const pool = new ServerPool();
  let spec: TestServerSpec;
  let at: string[];

  const zeroplane = (...args: string[]) => runCli([...args, ...at]);

  beforeAll(async () => {
    [spec] = (await serverSpecs(1)) as [TestServerSpec];
    await pool.start(spec);
    at = ["--endpoint", spec.endpoint, "--publish-endpoint", spec.publishEndpoint];
  });
  afterAll(() => pool.disposeAll());

  it("spawns, shows, lists and prints the logs of an agent", async () => {
    const spawned = await zeroplane("spawn", "-q", "--label", "team=cli", "--", "sh", "-c", "echo from-agent");
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
    expect(agent).toMatchObject({ name: "json-agent", command: "sleep", args: ["30"], serverId: spec.id });
    const listed = JSON.parse((await zeroplane("list", "--json", "--status", "running")).stdout) as {
      agents: AgentInfo[];
    };
    expect(listed.agents.map((a) => a.id)).toContain(agent.id);
    const health = JSON.parse((await zeroplane("health", "--json")).stdout) as Array<{ ok: boolean; health: HealthResult }>;
    expect(health).toEqual([expect.objectContaining({ ok: true, health: expect.objectContaining({ serverId: spec.id }) })]);
    await zeroplane("kill", agent.id);
  });

  it("pauses, resumes and stops agents, one or many at once", async () => {
    const ids = await Promise.all(
      [1, 2].map(async () => (await zeroplane("spawn", "-q", "--label", "batch=yes", "--", "sleep", "30")).stdout.trim()),
    );
    const paused = await zeroplane("pause", ids[0]!);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(/paused/);
    expect((await zeroplane("resume", ids[0]!)).stdout).toMatch(/running/);
    const both = await zeroplane("stop", "--grace", "500", ...ids);
    expect(both.code).toBe(0);
    expect(both.stdout.split("\n")[0]).toMatch(/^ID +RESULT +STATUS +ERROR$/);
    expect(both.stdout.match(/ ok /g)).toHaveLength(2);
  });

  it("applies a batch to agents selected by label, and exits 1 when one of them fails", async () => {
    await Promise.all([1, 2, 3].map(() => zeroplane("spawn", "-q", "--label", "sel=kill-me", "--", "sleep", "30")));
    const selected = await zeroplane("batch", "kill", "--label", "sel=kill-me", "--json");
    expect(selected.code).toBe(0);
    const result = JSON.parse(selected.stdout) as { results: Array<{ ok: boolean }> };
    expect(result.results).toHaveLength(3);

    const partly = await zeroplane("batch", "resume", "no-such-agent", "also-missing");
    expect(partly.code).toBe(EXIT_CODES.serverError);
    expect(partly.stdout).toMatch(/no-such-agent +failed +- +NOT_FOUND/);
  });

  it("follows the logs of a running agent until it ends", async () => {
    const id = (await zeroplane("spawn", "-q", "--", "sh", "-c", "for i in 1 2 3; do echo tick$i; sleep 0.3; done")).stdout.trim();
    const followed = await zeroplane("logs", "--follow", id);
    expect(followed).toMatchObject({ code: 0, stdout: "tick1\ntick2\ntick3\n" });
  });

  it("shows health and stats tables", async () => {
    const [health, stats] = await Promise.all([zeroplane("health"), zeroplane("stats")]);
    expect(health.code).toBe(0);
    expect(health.stdout).toMatch(new RegExp(`^${spec.endpoint.replace(/\./g, "\\.")} +${spec.id} +ready +\\d+/100 +\\d+%`, "m"));
    expect(stats.code).toBe(0);
    expect(stats.stdout.split("\n")[0]).toMatch(/^SERVER +REQUESTS +ERRORS +SPAWNS/);
  });

  it("exits 1 with the server's error code and message when the server refuses", async () => {
    const missing = await zeroplane("get", "no-such-agent");
    expect(missing.code).toBe(EXIT_CODES.serverError);
    expect(missing.stderr).toMatch(/zeroplane: error \[NOT_FOUND\]: .*no-such-agent/);
    const json = await zeroplane("get", "no-such-agent", "--json");
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { kind: "server", code: "NOT_FOUND", exitCode: 1 } });
  });
});
