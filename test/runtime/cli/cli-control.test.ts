/** The real `zeroplane` CLI against a real server process: control commands, health and exit codes. */
import { describe, expect, it } from "vitest";
import { EXIT_CODES } from "../../../runtime/cli/shared.js";
import { useCliAgainstServer } from "./support/cli-against-server.js";

describe("zeroplane CLI: control, health and exit codes", () => {
  const { spec, zeroplane } = useCliAgainstServer();

  it("pauses, resumes and stops agents, one or many at once", async () => {
    const ids = await Promise.all(
      [1, 2].map(async () =>
        (await zeroplane("spawn", "-q", "--label", "batch=yes", "--", "sleep", "30")).stdout.trim(),
      ),
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
    await Promise.all(
      [1, 2, 3].map(() => zeroplane("spawn", "-q", "--label", "sel=kill-me", "--", "sleep", "30")),
    );
    const selected = await zeroplane("batch", "kill", "--label", "sel=kill-me", "--json");
    expect(selected.code).toBe(0);
    const result = JSON.parse(selected.stdout) as { results: Array<{ ok: boolean }> };
    expect(result.results).toHaveLength(3);

    const partly = await zeroplane("batch", "resume", "no-such-agent", "also-missing");
    expect(partly.code).toBe(EXIT_CODES.serverError);
    expect(partly.stdout).toMatch(/no-such-agent +failed +- +NOT_FOUND/);
  });

  it("shows health and stats tables", async () => {
    const [health, stats] = await Promise.all([zeroplane("health"), zeroplane("stats")]);
    expect(health.code).toBe(0);
    expect(health.stdout).toMatch(
      new RegExp(`^${spec().endpoint.replace(/\./g, "\\.")} +${spec().id} +ready +\\d+/100 +\\d+%`, "m"),
    );
    expect(stats.code).toBe(0);
    expect(stats.stdout.split("\n")[0]).toMatch(/^SERVER +REQUESTS +ERRORS +SPAWNS/);
  });

  it("exits 1 with the server's error code and message when the server refuses", async () => {
    const missing = await zeroplane("get", "no-such-agent");
    expect(missing.code).toBe(EXIT_CODES.serverError);
    expect(missing.stderr).toMatch(/zeroplane: error \[NOT_FOUND\]: .*no-such-agent/);
    const json = await zeroplane("get", "no-such-agent", "--json");
    expect(JSON.parse(json.stderr)).toMatchObject({
      error: { kind: "server", code: "NOT_FOUND", exitCode: 1 },
    });
  });
});
