/**
 * With no server at the endpoint, commands do not wait out their 30 s timeout in silence: they
 * say on stderr what they are waiting for, and give up with exit 3 once the endpoint has refused
 * connections for REFUSED_GIVE_UP_MS, naming it.
 */
import { describe, expect, it } from "vitest";
import { EXIT_CODES, REFUSED_GIVE_UP_MS, WAITING_NOTICE_MS } from "../../../runtime/cli/shared.js";
import { freePort } from "../../support/ports.js";
import { runCli } from "./support/run-cli.js";

/** Generous for a loaded machine, and far below the 30 s default timeout the commands used to wait out. */
const GIVE_UP_WITHIN_MS = REFUSED_GIVE_UP_MS + 7_000;

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
    expect(result.stderr).toMatch(
      new RegExp(
        `error: cannot reach ${endpoint}: connection refused for \\d+ s, so no server is listening there\\. Fix: check that the server is running`,
      ),
    );
    expect(elapsedMs).toBeLessThan(GIVE_UP_WITHIN_MS);
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
