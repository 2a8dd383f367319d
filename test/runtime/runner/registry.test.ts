/**
 * Finding agents: list filters and pagination, retention of finished agents, and the agent environment.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProtocolError, type AgentInfo } from "../../../runtime/protocol/index.js";
import { buildAgentEnv, RUNNER_INSTANCE_ENV_VAR } from "../../../runtime/runner/index.js";
import { LAUNCHER_MODES, useLauncherMode, RunnerHarness, waitFor } from "./helpers.js";

describe.each(LAUNCHER_MODES)("with the %s launcher", (mode) => {
  beforeAll(() => useLauncherMode(mode));

  let h: RunnerHarness;

  afterEach(async () => {
    await h.dispose();
  });

  describe("list", () => {
    /** Five agents in creation order: a0 running, a1 exited, a2 running, a3 exited, a4 paused. */
    async function fleet(): Promise<AgentInfo[]> {
      const agents: AgentInfo[] = [];
      for (let index = 0; index < 5; index++) {
        const team = index % 2 === 0 ? "a" : "b";
        const args = index % 2 === 0 ? ["30"] : ["0"];
        agents.push(await h.spawn({ command: "sleep", args, labels: { team, n: String(index) } }));
      }
      await h.waitForEnd((agents[1] as AgentInfo).id);
      await h.waitForEnd((agents[3] as AgentInfo).id);
      await h.control({ agentId: (agents[4] as AgentInfo).id, action: "pause" });
      return agents;
    }

    it("returns every agent in creation order with the total", async () => {
      h = await RunnerHarness.create();
      const agents = await fleet();
      const result = h.list();
      expect(result.agents.map((agent) => agent.id)).toEqual(agents.map((agent) => agent.id));
      expect(result).toMatchObject({ total: 5, nextCursor: null });
    });

    it("filters by any of the given statuses", async () => {
      h = await RunnerHarness.create();
      const agents = await fleet();
      const result = h.list({ status: ["running", "paused"] });
      expect(result.agents.map((agent) => agent.labels.n)).toEqual(["0", "2", "4"]);
      expect(result.total).toBe(3);
      expect(h.list({ status: ["exited"] }).agents.map((agent) => agent.id)).toEqual([
        agents[1]?.id,
        agents[3]?.id,
      ]);
    });

    it("filters by labels, all of which must match, and combines with status", async () => {
      h = await RunnerHarness.create();
      await fleet();
      expect(h.list({ labels: { team: "a" } }).agents.map((agent) => agent.labels.n)).toEqual([
        "0",
        "2",
        "4",
      ]);
      expect(h.list({ labels: { team: "a", n: "2" } }).agents.map((agent) => agent.labels.n)).toEqual(["2"]);
      expect(h.list({ labels: { team: "a", n: "1" } }).total).toBe(0);
      expect(
        h.list({ labels: { team: "a" }, status: ["paused"] }).agents.map((agent) => agent.labels.n),
      ).toEqual(["4"]);
    });

    it("paginates with limit and an opaque cursor, in a stable order", async () => {
      h = await RunnerHarness.create();
      const agents = await fleet();
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = h.list({ limit: 2, ...(cursor ? { cursor } : {}) });
        expect(page.total).toBe(5);
        expect(page.agents.length).toBeLessThanOrEqual(2);
        seen.push(...page.agents.map((agent) => agent.id));
        cursor = page.nextCursor ?? undefined;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen).toEqual(agents.map((agent) => agent.id));
    });

    it("keeps its place when agents are added between pages", async () => {
      h = await RunnerHarness.create();
      const agents = await fleet();
      const first = h.list({ limit: 3 });
      const added = await h.spawn({ command: "true" });
      const rest = h.list({ limit: 10, cursor: first.nextCursor as string });
      expect(rest.agents.map((agent) => agent.id)).toEqual([agents[3]?.id, agents[4]?.id, added.id]);
    });

    it("rejects a cursor it did not issue with BAD_REQUEST", async () => {
      h = await RunnerHarness.create();
      const error = (() => {
        try {
          h.list({ cursor: "not-a-cursor" });
          return null;
        } catch (caught) {
          return caught;
        }
      })();
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as ProtocolError).code).toBe("BAD_REQUEST");
      expect((error as ProtocolError).message).toMatch(/list cursor "not-a-cursor" is not valid/);
    });
  });

  describe("retention", () => {
    it("keeps a finished agent for retentionMs, then forgets it", async () => {
      h = await RunnerHarness.create({ retentionMs: 400 });
      const info = await h.spawn({ command: "sh", args: ["-c", "echo bye"] });
      await h.waitForEnd(info.id);
      expect(h.stdout(info.id)).toBe("bye\n");
      await waitFor("the agent to be evicted", () => h.list().total === 0);
      expect(() => h.runner.get(info.id)).toThrow(/no agent/);
      expect(() => h.output({ agentId: info.id })).toThrow(/no agent/);
    });

    it("never evicts an agent that is still running", async () => {
      h = await RunnerHarness.create({ retentionMs: 1 });
      const running = await h.spawn({ command: "sleep", args: ["30"] });
      const done = await h.spawn({ command: "true" });
      await waitFor("the finished agent to be evicted", () => h.list().total === 1);
      expect(h.list().agents.map((agent) => agent.id)).toEqual([running.id]);
      expect(() => h.runner.get(done.id)).toThrow(/no agent/);
    });
  });

  describe("agent environment", () => {
    it("passes a minimal base plus the caller's env, and never the server's secrets", async () => {
      h = await RunnerHarness.create();
      const saved = { ...process.env };
      process.env.ZEROPLANE_SECURITY_SECRET_KEY = "server-secret-zp";
      process.env.AWS_SECRET_ACCESS_KEY = "cloud-secret-zp";
      try {
        const info = await h.spawn({ command: "env", env: { GREETING: "hello", LANG: "C" } });
        await h.waitForEnd(info.id);
        const lines = h.stdout(info.id).trim().split("\n");
        const names = lines.map((line) => line.split("=")[0]);
        expect(lines).toContain("GREETING=hello");
        expect(lines).toContain("LANG=C");
        expect(names).toContain("PATH");
        expect(names).toContain("HOME");
        expect(h.stdout(info.id)).not.toContain("secret-zp");
        expect(names.filter((name) => name?.startsWith("ZEROPLANE_"))).toEqual([]);
      } finally {
        process.env = saved;
      }
    });

    it("marks every agent with its runner's instance id, which the caller cannot override", async () => {
      h = await RunnerHarness.create();
      const info = await h.spawn({ command: "env", env: { [RUNNER_INSTANCE_ENV_VAR]: "forged" } });
      await h.waitForEnd(info.id);
      const lines = h.stdout(info.id).trim().split("\n");
      expect(h.runner.instanceId).toMatch(/^[0-9a-f]{32}$/);
      expect(lines.filter((line) => line.startsWith(`${RUNNER_INSTANCE_ENV_VAR}=`))).toEqual([
        `${RUNNER_INSTANCE_ENV_VAR}=${h.runner.instanceId}`,
      ]);
    });

    it("builds the base from the allowlist only", () => {
      const env = buildAgentEnv(
        { A: "1" },
        { PATH: "/bin", HOME: "/home/x", ZEROPLANE_X: "s", NODE_OPTIONS: "-r x" },
      );
      expect(env).toEqual({ PATH: "/bin", HOME: "/home/x", LANG: "C.UTF-8", A: "1" });
    });
  });
});
