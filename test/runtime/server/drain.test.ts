/**
 * The drain that waits (server.agentDrainMs), against a real server process: on SIGTERM spawns are
 * refused at once, running agents may finish up to the maximum, the rest are then stopped, and the
 * process exits before agentDrainMs + shutdownGraceMs (the budget the pod's grace period is built on).
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ENV_VARS, loadConfig } from "../../../runtime/config/index.js";
import { shutdownBudgetMs } from "../../../runtime/server/drain.js";
import { startServerProcess, testServerConfig, type ServerProcess } from "../../support/server-process.js";
import { waitFor } from "../../support/wait.js";
import { WireClient, WireError } from "./wire-client.js";
import { spawnTermIgnoringAgent } from "../../support/term-ignoring-agent.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(
  config: Parameters<typeof testServerConfig>[0],
): Promise<{ p: ServerProcess; c: WireClient; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "zeroplane-drain-"));
  // Started as root, the runner runs agents under their own unprivileged uid: let them write here.
  chmodSync(dir, 0o1777);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const p = await startServerProcess({ config: testServerConfig(config) });
  cleanups.push(() => p.dispose());
  const c = new WireClient(p.endpoints.router);
  cleanups.push(() => c.close());
  return { p, c, dir };
}

/** Whether a pid is a live process (not a zombie). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function spawnRefusal(c: WireClient): Promise<unknown> {
  return c.request("spawn", { command: "true" }).catch((error: unknown) => error);
}

function logMessages(p: ServerProcess): unknown[] {
  return p.logs.map((line) => line.msg);
}

describe("server.agentDrainMs", () => {
  it("is read from the environment and adds to the shutdown budget", () => {
    const config = loadConfig({
      env: {
        [ENV_VARS["server.agentDrainMs"]]: "600000",
        [ENV_VARS["server.shutdownGraceMs"]]: "30000",
      },
    });
    expect(config.server.agentDrainMs).toBe(600_000);
    expect(shutdownBudgetMs(config.server)).toBe(630_000);
    expect(loadConfig({ env: {} }).server.agentDrainMs).toBe(0);
    expect(() => loadConfig({ env: { [ENV_VARS["server.agentDrainMs"]]: "-1" } })).toThrow(
      /ZEROPLANE_SERVER_AGENT_DRAIN_MS|server\.agentDrainMs/,
    );
  });
});

describe("SIGTERM with agents running and an agent drain", () => {
  it("refuses spawns at once, lets running agents finish, then exits 0 well before the budget", async () => {
    const { p, c, dir } = await start({
      server: { agentDrainMs: 30_000, shutdownGraceMs: 5_000 },
      runner: { stopGraceMs: 1_000 },
    });
    const done = join(dir, "done");
    // Runs ~2.5 s past SIGTERM and records that it got to the end (a stopped agent never writes it).
    const agent = await c.request("spawn", {
      command: "sh",
      args: ["-c", `sleep 2.5; echo finished > ${done}`],
    });
    const signalledAt = Date.now();
    p.kill("SIGTERM");

    const refused = await waitFor(
      "spawns to be refused",
      async () => {
        const outcome = await spawnRefusal(c);
        return outcome instanceof WireError ? outcome : false;
      },
      5_000,
    );
    expect(refused.body).toMatchObject({ code: "DRAINING", retryable: true });
    expect(await c.request("health", {})).toMatchObject({ draining: true, ready: false });
    // While the drain waits the agent keeps running: nothing has signalled it.
    expect((await c.request("get", { agentId: agent.id })).status).toBe("running");

    const exit = await p.exited;
    const took = Date.now() - signalledAt;
    expect(exit.code).toBe(0);
    expect(readFileSync(done, "utf8")).toBe("finished\n");
    expect(took).toBeGreaterThanOrEqual(2_000);
    // Ends when the last agent does, not when the maximum runs out.
    expect(took).toBeLessThan(15_000);
    const finished = p.logs.find((line) => line.msg === "agents finished");
    expect(finished).toMatchObject({ finished: true, remaining: 0 });
  }, 60_000);

  it("stops the agents still running at the maximum, then exits within agentDrainMs + shutdownGraceMs", async () => {
    const server = { agentDrainMs: 2_000, shutdownGraceMs: 6_000 };
    const { p, c, dir } = await start({ server, runner: { stopGraceMs: 1_500 } });
    const done = join(dir, "done");
    const polite = await c.request("spawn", {
      command: "sh",
      args: ["-c", `sleep 60; echo finished > ${done}`],
    });
    // Ignores SIGTERM: only SIGKILL after runner.stopGraceMs ends it.
    const stubborn = await spawnTermIgnoringAgent(c);
    const signalledAt = Date.now();
    p.kill("SIGTERM");

    await waitFor("spawns to be refused", async () => (await spawnRefusal(c)) instanceof WireError, 5_000);
    const exit = await p.exited;
    const took = Date.now() - signalledAt;
    expect(exit.code).toBe(0);
    expect(took).toBeGreaterThanOrEqual(server.agentDrainMs + 1_000);
    expect(took).toBeLessThan(shutdownBudgetMs(server));
    expect(p.logs.find((line) => line.msg === "agent drain maximum reached")).toMatchObject({
      finished: false,
      remaining: 2,
    });
    expect(logMessages(p)).toEqual(expect.arrayContaining(["stopping agents", "shutdown complete"]));
    await waitFor("agents to be gone", () => !isRunning(polite.pid!) && !isRunning(stubborn.pid!), 5_000);
    expect(() => readFileSync(done)).toThrow(/ENOENT/);
  }, 60_000);

  it("without an agent drain, stops agents at once as before", async () => {
    const { p, c } = await start({ server: { shutdownGraceMs: 10_000 }, runner: { stopGraceMs: 1_000 } });
    const agent = await c.request("spawn", { command: "sleep", args: ["60"] });
    const signalledAt = Date.now();
    p.kill("SIGTERM");
    const exit = await p.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(5_000);
    expect(logMessages(p)).not.toContain("draining: waiting for agents to finish");
    await waitFor("the agent to be gone", () => !isRunning(agent.pid!), 5_000);
  }, 60_000);
});
