/**
 * Per-agent limits, enforced with rlimits (prlimit) by the separate runner, as the agent uid. An
 * agent that runs into a limit ends with a status and an error naming the limit; a spawn asking for
 * more than the server's maximum is refused, and the server's default applies when a spawn asks for
 * nothing. Runs as root, as CI does: the agents run as uid 10002.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ProtocolError } from "../../../runtime/protocol/index.js";
import { effectiveLimits, parseSize } from "../../../runtime/runner/index.js";
import type { LimitPolicy } from "../../../runtime/runner/limits.js";
import { RunnerHarness } from "./helpers.js";

const MiB = 1024 * 1024;
let h: RunnerHarness | null = null;

afterEach(async () => {
  await h?.dispose();
  h = null;
});

async function separateRunner(limits?: LimitPolicy): Promise<RunnerHarness> {
  h = await RunnerHarness.create({ isolation: { mode: "process" }, ...(limits ? { limits } : {}) });
  return h;
}

/** Runs one agent on a separate runner (no server-side limits) to its end. */
async function runToEnd(params: Parameters<RunnerHarness["spawn"]>[0], timeoutMs?: number) {
  const runner = await separateRunner();
  const agent = await runner.spawn(params);
  const ended = await runner.waitForEnd(agent.id, timeoutMs);
  return { ended, stdout: runner.stdout(agent.id) };
}

describe("limits on a separate runner's agents", () => {
  it.each([
    {
      name: "an agent allocating 300 MB under a 64 MiB memory limit fails",
      command: "perl",
      args: ["-e", '$x = "a" x (300 * 1024 * 1024); print "allocated\\n"'],
      limits: { memoryBytes: 64 * MiB },
      error: /memory limit 64Mi/,
      marker: "allocated",
    },
    {
      name: "under max-processes 1 the agent cannot fork, ends non-zero",
      command: "sh",
      args: ["-c", "sleep 0 & wait; echo forked"],
      limits: { maxProcesses: 1 },
      error: /max-processes limit 1/,
      marker: "forked",
    },
  ])("$name, and the error names the limit", async ({ command, args, limits, error, marker }) => {
    const { ended, stdout } = await runToEnd({ command, args, limits });
    expect(ended.status).toBe("exited");
    expect(ended.exitCode).not.toBe(0);
    expect(ended.error).toMatch(error);
    expect(stdout).not.toContain(marker);
  });

  it("the same allocation succeeds without a limit (the limit is what stops it)", async () => {
    const { ended, stdout } = await runToEnd({
      command: "perl",
      args: ["-e", '$x = "a" x (300 * 1024 * 1024); print "allocated\\n"'],
    });
    expect(ended).toMatchObject({ status: "exited", exitCode: 0, error: null });
    expect(stdout).toContain("allocated");
  });

  it("a busy loop under cpu-seconds 1 is killed by SIGXCPU, and the error names the limit", async () => {
    const { ended } = await runToEnd(
      { command: "sh", args: ["-c", "while :; do :; done"], limits: { cpuSeconds: 1 } },
      30_000,
    );
    expect(ended).toMatchObject({ status: "killed", signal: "SIGXCPU" });
    expect(ended.error).toMatch(/cpu-seconds limit exceeded/);
  });

  it("under max-open-files 10 the agent's opens fail with EMFILE", async () => {
    const { ended, stdout } = await runToEnd({
      command: "perl",
      args: ["-e", 'my @f; while (open(my $f, "<", "/dev/null")) { push @f, $f } print "$!\\n"; exit 1'],
      limits: { maxOpenFiles: 10 },
    });
    expect(ended).toMatchObject({ status: "exited", exitCode: 1 });
    expect(ended.error).toMatch(/max-open-files limit 10/);
    expect(stdout).toContain("Too many open files");
  });

  it("applies the server's default when a spawn sets no limit", async () => {
    const runner = await separateRunner({ defaults: { memoryBytes: 64 * MiB }, maxima: {} });
    const agent = await runner.spawn({
      command: "perl",
      args: ["-e", '$x = "a" x (300 * 1024 * 1024)'],
    });
    const ended = await runner.waitForEnd(agent.id);
    expect(ended.exitCode).not.toBe(0);
    expect(ended.error).toMatch(/memory limit 64Mi/);
  });

  it("refuses a spawn above the server's maximum with BAD_REQUEST naming the limit and the maximum", async () => {
    const runner = await separateRunner({ defaults: {}, maxima: { cpuSeconds: 60 } });
    await expect(runner.spawn({ command: "true", limits: { cpuSeconds: 61 } })).rejects.toThrow(
      /limit cpu-seconds 61 is above this server's maximum 60/,
    );
    expect(runner.list().total).toBe(0);
  });
});

describe("limit values", () => {
  it("parses sizes with binary and decimal units, and names the fix for anything else", () => {
    expect(parseSize("64Mi")).toBe(64 * MiB);
    expect(parseSize("512M")).toBe(512_000_000);
    expect(parseSize("1Gi")).toBe(1024 * MiB);
    expect(parseSize("4096")).toBe(4096);
    expect(() => parseSize("lots")).toThrow(/"lots" is not a size; .*64Mi/);
    expect(() => parseSize("0")).toThrow(RangeError);
  });

  it("takes the request over the default, leaves 0 as no limit, and refuses above the maximum", () => {
    const policy: LimitPolicy = {
      defaults: { memoryBytes: 64 * MiB, cpuSeconds: 0 },
      maxima: { memoryBytes: 256 * MiB, cpuSeconds: 0 },
    };
    expect(effectiveLimits(undefined, policy)).toEqual({ memoryBytes: 64 * MiB });
    expect(effectiveLimits({ memoryBytes: 128 * MiB, cpuSeconds: 5 }, policy)).toEqual({
      memoryBytes: 128 * MiB,
      cpuSeconds: 5,
    });
    expect(() => effectiveLimits({ memoryBytes: 512 * MiB }, policy)).toThrow(ProtocolError);
    expect(() => effectiveLimits({ memoryBytes: 512 * MiB }, policy)).toThrow(/maximum 256Mi/);
  });
});
