/** `npm run synth` as a command: --help, --env for one environment, and a unified diff from --check. */
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { unifiedDiff } from "../../stacks/synth.js";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));

function synth(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(repoRoot, "stacks", "synth.ts"), ...args],
      { cwd: repoRoot, timeout: 120_000 },
      (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe("unifiedDiff", () => {
  it("shows removed lines before added ones, with three lines of context", () => {
    const before = ["a", "b", "c", "d", "e", "f", "g", "h"].join("\n");
    const after = ["a", "b", "c", "d", "E", "f", "g", "h"].join("\n");
    expect(unifiedDiff("x.yaml", before, after)).toBe(
      [
        "--- x.yaml (committed)",
        "+++ x.yaml (fresh synthesis)",
        "@@ -2,7 +2,7 @@",
        " b",
        " c",
        " d",
        "-e",
        "+E",
        " f",
        " g",
        " h",
      ].join("\n"),
    );
  });
});

describe("npm run synth (the command)", () => {
  const scratch = mkdtempSync(join(tmpdir(), "zp-synth-cli-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("prints its usage with --help", async () => {
    const result = await synth("--help");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: npm run synth -- \[--check\] \[--env <name>\]/);
  });

  it("checks one environment with --env and prints a unified diff of a drifted file", async () => {
    const out = join(scratch, "deploy");
    cpSync(join(repoRoot, "deploy"), out, { recursive: true });
    const file = join(out, "prod", "kustomization.yaml");
    const lines = readFileSync(file, "utf8").split("\n");
    lines.splice(1, 0, "# edited by hand");
    writeFileSync(file, lines.join("\n"));
    rmSync(join(out, "dev"), { recursive: true });

    const prod = await synth("--check", "--env", "prod", "--out", out);
    expect(prod.code).toBe(1);
    expect(prod.stderr).toContain("prod/kustomization.yaml (committed)");
    expect(prod.stderr).toMatch(/^-# edited by hand$/m);
    expect(prod.stderr).toContain("drifted: kustomization.yaml");
    // Only prod was compared: the missing dev/ folder is not reported.
    expect(prod.stderr).not.toContain("dev/");

    const unknown = await synth("--check", "--env", "nope", "--out", out);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no environment "nope" in the stack files\. Fix: use one of .*prod/);
  }, 120_000);
});
