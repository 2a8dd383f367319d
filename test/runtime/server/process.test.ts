/**
 * The server as a real process: SIGTERM drain, and no orphaned agents after SIGKILL.
 */
import { readdirSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { startServerProcess, testServerConfig, type ServerProcess } from "../../support/server-process.js";
import { WireClient, WireError } from "./wire-client.js";
import { waitFor } from "../../support/wait.js";
import { spawnTermIgnoringAgent } from "../../support/term-ignoring-agent.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(
  config: Parameters<typeof testServerConfig>[0],
): Promise<{ p: ServerProcess; c: WireClient }> {
  const p = await startServerProcess({ config: testServerConfig(config) });
  cleanups.push(() => p.dispose());
  const c = new WireClient(p.endpoints.router);
  cleanups.push(() => c.close());
  return { p, c };
}

/** Pids of every live (non-zombie) process in a process group, from /proc. */
function processGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") members.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return members;
}

async function readyzStatus(http: string): Promise<number | null> {
  try {
    return (await fetch(`${http}/readyz`)).status;
  } catch {
    return null;
  }
}

describe("the server process", () => {
  it("drains on SIGTERM: not ready at once, refuses spawns, stops agents gracefully, exits in the grace period", async () => {
    const { p, c } = await start({
      server: { shutdownGraceMs: 15_000, stopAgentsOnShutdown: true },
      runner: { stopGraceMs: 3_000 },
    });
    // This agent ignores SIGTERM, so the drain lasts the whole stop grace period.
    const stubborn = await spawnTermIgnoringAgent(c);
    const polite = await c.request("spawn", { command: "sleep", args: ["60"] });
    expect(await readyzStatus(p.endpoints.http)).toBe(200);

    const signalledAt = Date.now();
    p.kill("SIGTERM");
    await waitFor("/readyz to fail", async () => (await readyzStatus(p.endpoints.http)) === 503, 5_000);
    const refused = await c
      .request("spawn", { command: "sleep", args: ["1"] })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(WireError);
    expect((refused as WireError).body).toMatchObject({ code: "DRAINING", retryable: true });
    const health = await c.request("health", {});
    expect(health).toMatchObject({ draining: true, ready: false });
    const politeNow = await c.request("get", { agentId: polite.id });
    expect(["stopping", "killed", "exited"]).toContain(politeNow.status);

    const exit = await p.exited;
    const took = Date.now() - signalledAt;
    expect(exit.code).toBe(0);
    expect(took).toBeLessThan(15_000);
    expect(took).toBeGreaterThanOrEqual(2_500);
    expect(processGroupMembers(stubborn.pid!)).toEqual([]);
    expect(processGroupMembers(polite.pid!)).toEqual([]);
    const messages = p.logs.map((line) => line.msg);
    expect(messages).toContain("draining: refusing new spawns");
    expect(messages).toContain("shutdown complete");
  });

  it("leaves no orphaned agents, nor their children, after the server is SIGKILLed", async () => {
    const { p, c } = await start({});
    const agents = await Promise.all([
      c.request("spawn", { command: "sleep", args: ["60"] }),
      c.request("spawn", { command: "sh", args: ["-c", "sleep 60 & sleep 60 & wait"] }),
      c.request("spawn", { command: "sh", args: ["-c", "trap '' TERM; sleep 60"] }),
    ]);
    await waitFor(
      "the grandchildren to start",
      () => processGroupMembers(agents[1]!.pid!).length >= 3,
      10_000,
    );
    p.kill("SIGKILL");
    await p.exited;
    await waitFor(
      "every agent process group to be gone",
      () => agents.every((agent) => processGroupMembers(agent.pid!).length === 0),
      15_000,
    );
  });

  it("fails to start with a clear message when CURVE is on and no key is configured", async () => {
    const attempt = startServerProcess({
      config: testServerConfig({ security: { curve: true } }),
      readyTimeoutMs: 20_000,
    });
    await expect(attempt).rejects.toThrow(/ZEROPLANE_SECURITY_SECRET_KEY_FILE[\s\S]*zeroplane keygen/);
  });
});
