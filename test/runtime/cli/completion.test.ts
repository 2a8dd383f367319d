/**
 * Shell completion: the scripts come from the command tree (every command and flag is in them), bash
 * and fish complete real command lines with theirs, and zsh parses its own (the test setup installs
 * all three shells' packages when missing).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  COMPLETION_SHELLS,
  completionScript,
  type CompletionShell,
} from "../../../runtime/cli/completion.js";
import { buildProgram } from "../../../runtime/cli/main.js";
import { runCli } from "./support/run-cli.js";

const onPath = (binary: string) => spawnSync("sh", ["-c", `command -v ${binary}`]).status === 0;

describe("zeroplane completion", () => {
  const dir = mkdtempSync(join(tmpdir(), "zp-completion-"));
  const scripts = {} as Record<CompletionShell, string>;
  beforeAll(async () => {
    for (const shell of COMPLETION_SHELLS) {
      const result = await runCli(["completion", shell]);
      expect(result.code, result.stderr).toBe(0);
      scripts[shell] = result.stdout;
      writeFileSync(join(dir, `zeroplane.${shell}`), result.stdout);
    }
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is generated from the program: every command and every long flag is in every script", () => {
    const program = buildProgram();
    for (const shell of COMPLETION_SHELLS) {
      expect(scripts[shell]).toBe(completionScript(shell, program));
      for (const command of program.commands) {
        expect(scripts[shell], `${shell}: ${command.name()}`).toContain(command.name());
        for (const option of command.options) {
          const long = option.long!;
          expect(scripts[shell], `${shell}: ${command.name()} ${long}`).toContain(
            shell === "fish" ? `-l ${long.slice(2)}` : long,
          );
        }
      }
    }
  });

  /** What bash completes for `words` (the last one being completed) with the generated script. */
  function complete(...words: string[]): string[] {
    const line = words.map((word) => `'${word}'`).join(" ");
    const result = spawnSync(
      "bash",
      [
        "-c",
        `source ${join(dir, "zeroplane.bash")}; COMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; _zeroplane_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { encoding: "utf8" },
    );
    expect(result.status, result.stderr).toBe(0);
    return result.stdout.split("\n").filter(Boolean).sort();
  }

  it("bash parses the script and completes commands, subcommands, flags and their values", () => {
    const parsed = spawnSync("bash", ["-n", join(dir, "zeroplane.bash")], { encoding: "utf8" });
    expect(parsed.status, parsed.stderr).toBe(0);
    expect(complete("zeroplane", "con")).toEqual(["context"]);
    expect(complete("zeroplane", "context", "")).toEqual(["--help", "list", "show", "use"]);
    expect(complete("zeroplane", "logs", "--stream", "")).toEqual(["stderr", "stdout"]);
    expect(complete("zeroplane", "logs", "--ti")).toEqual(["--timeout", "--timestamps"]);
    expect(complete("zeroplane", "--json", "up", "--ser")).toEqual(["--servers"]);
    expect(complete("zeroplane", "completion", "")).toEqual(["--help", "bash", "fish", "zsh"]);
    // After `--` the words are the agent's: nothing from us.
    expect(complete("zeroplane", "spawn", "--", "ls", "-")).toEqual([]);
  });

  it("zsh and fish parse theirs (the test setup installs both)", () => {
    for (const shell of ["zsh", "fish"] as const) {
      expect(scripts[shell]).toContain(
        shell === "zsh" ? "compdef _zeroplane zeroplane" : "complete -c zeroplane",
      );
      expect(onPath(shell), `${shell} is installed here`).toBe(true);
      const parsed = spawnSync(shell, ["-n", join(dir, `zeroplane.${shell}`)], { encoding: "utf8" });
      expect(parsed.status, parsed.stderr).toBe(0);
    }
  });

  it("fish completes real command lines with its script", () => {
    const complete = (line: string): string[] => {
      const script = `source ${join(dir, "zeroplane.fish")}; complete -C ${JSON.stringify(line)}`;
      const result = spawnSync("fish", ["--no-config", "-c", script], { encoding: "utf8" });
      expect(result.status, result.stderr).toBe(0);
      return result.stdout
        .split("\n")
        .filter(Boolean)
        .map((row) => row.split("\t")[0]!);
    };
    expect(complete("zeroplane sp")).toEqual(["spawn"]);
    expect(complete("zeroplane spawn --idem")).toEqual(["--idempotency-key"]);
    expect(complete("zeroplane context ")).toEqual(expect.arrayContaining(["list", "use", "show"]));
  });
});
