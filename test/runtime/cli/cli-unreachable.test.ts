/**
 * With no server at the endpoint, commands do not wait out their 30 s timeout in silence: they
 * say on stderr what they are waiting for, and give up with exit 3 once the endpoint has refused
 * connections for REFUSED_GIVE_UP_MS, naming it.
 */
import { describe, expect, it } from "vitest";
import { EXIT_CODES, REFUSED_GIVE_UP_MS, WAITING_NOTICE_MS } from "../../../runtime/cli/shared.js";
import { freePort } from "../../support/ports.js";
import { runCli } from "./support/run-cli.js";

/**
 * Wall clock includes starting node and tsx, which takes seconds on a loaded machine: the bound only
 * proves the command did not wait out the 30 s default timeout. The CLI's own wait is checked exactly
 * from its message.
 */
const WALL_CLOCK_BOUND_MS = 20_000;

describe("a command with no server listening", () => {
  it.each([
    ["list", []],
    ["spawn", ["--", "echo", "hello"]],
    ["get", ["0b4f4f0e-0000-4000-8000-000000000000"]],
  ])("`%s` exits 3 within seconds, naming the endpoint, with progress on stderr", async (command, args) => {
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const startedAt = Date.now();
    const result = await runCli([command, "--endpoint", endpoint, ...args]);
    const elapsedMs = Date.now() - startedAt;
    expect(result.code).toBe(EXIT_CODES.unreachable);
    expect(result.stderr).toContain(
      `zeroplane: waiting ${WAITING_NOTICE_MS / 1000} s for ${endpoint} (connection refused, retrying)`,
    );
    const waited = new RegExp(
      `error: cannot reach ${endpoint}: connection refused for (\\d+) s, so no server is listening there\\. Fix: check that the server is running`,
    ).exec(result.stderr);
    expect(waited, result.stderr).not.toBeNull();
    // Given up once refused for REFUSED_GIVE_UP_MS (a second or two more when the machine is loaded).
    expect(Number(waited![1]) * 1000).toBeGreaterThanOrEqual(REFUSED_GIVE_UP_MS);
    expect(Number(waited![1]) * 1000).toBeLessThanOrEqual(REFUSED_GIVE_UP_MS + 2_000);
    expect(elapsedMs).toBeLessThan(WALL_CLOCK_BOUND_MS);
  });

  it("keeps stderr to one JSON error in --json mode", async () => {
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const result = await runCli(["list", "--json", "--endpoint", endpoint]);
    expect(result.code).toBe(EXIT_CODES.unreachable);
    const error = JSON.parse(result.stderr) as { error: { kind: string; exitCode: number; message: string } };
    expect(error.error).toMatchObject({ kind: "unreachable", exitCode: EXIT_CODES.unreachable });
    expect(error.error.message).toContain(endpoint);
  });
});
