/** `write`, `attach` and `logs --since/--timestamps`, through the real CLI against a real server. */
import { describe, expect, it } from "vitest";
import { waitFor } from "../../support/wait.js";
import { useCliAgainstServer } from "./support/cli-against-server.js";

/** An agent that echoes each stdin line, then "bye" and exit 7 at end-of-file. */
const ECHO_AGENT = ["--", "sh", "-c", 'while read l; do echo "got $l"; done; echo bye; exit 7'];

describe("zeroplane CLI: stdin and timed logs", () => {
  const { zeroplane, zeroplaneWithStdin } = useCliAgainstServer();

  it("write sends stdin to the agent, --end closes it", async () => {
    const id = (await zeroplane("spawn", "-q", ...ECHO_AGENT)).stdout.trim();
    const first = await zeroplaneWithStdin("one\ntwo\n", "write", id);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(`wrote 8 bytes to ${id}`);
    const last = await zeroplane("write", id, "--data", "three\n", "--end");
    expect(last.code, last.stderr).toBe(0);
    await waitFor("the agent to end", async () => /exited/.test((await zeroplane("get", id)).stdout), 20_000);
    const logs = await zeroplane("logs", id);
    expect(logs.stdout).toBe("got one\ngot two\ngot three\nbye\n");
    const closed = await zeroplane("write", id, "--data", "late");
    expect(closed.code).toBe(1);
  }, 90_000);

  it("attach prints the output, forwards stdin, closes it at our end-of-file and exits with the agent's code", async () => {
    const id = (await zeroplane("spawn", "-q", ...ECHO_AGENT)).stdout.trim();
    const attached = await zeroplaneWithStdin("a\nb\n", "attach", id);
    expect(attached.stdout).toBe("got a\ngot b\nbye\n");
    expect(attached.code, attached.stderr).toBe(7);
    expect(attached.stderr).toContain(`agent ${id} on`);
  }, 90_000);

  it("logs --timestamps puts each line's write time in front; --since starts at a time", async () => {
    const id = (
      await zeroplane(
        "spawn",
        "-q",
        "--",
        "sh",
        "-c",
        "echo early; sleep 1.2; printf 'late\\npart'; sleep 0.3; echo ial",
      )
    ).stdout.trim();
    await waitFor("the agent to end", async () => /exited/.test((await zeroplane("get", id)).stdout), 20_000);
    const stamped = await zeroplane("logs", "--timestamps", id);
    expect(stamped.code, stamped.stderr).toBe(0);
    const lines = stamped.stdout.trimEnd().split("\n");
    expect(lines.map((line) => line.slice(25))).toEqual(["early", "late", "partial"]);
    const times = lines.map((line) => Date.parse(line.slice(0, 24)));
    expect(times.every((time) => Number.isFinite(time))).toBe(true);
    // "late" came at least a second after "early"; "partial" is stamped with its first byte's time.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(1000);
    expect(times[2]).toBe(times[1]);
    const since = await zeroplane("logs", "--since", new Date(times[1]!).toISOString(), id);
    expect(since.code, since.stderr).toBe(0);
    expect(since.stdout).toBe("late\npartial\n");
    const future = await zeroplane("logs", "--since", new Date(Date.now() + 60_000).toISOString(), id);
    expect(future.stdout).toBe("");
    const bad = await zeroplane("logs", "--since", "yesterday", id);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since "yesterday" is neither a duration nor an ISO time');
    const both = await zeroplane("logs", "--since", "5m", "--tail", "10", id);
    expect(both.code).toBe(2);
  }, 90_000);
});
