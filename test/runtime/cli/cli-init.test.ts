/**
 * `zeroplane init <env>`: the written Pulumi.<env>.yaml loads through the stacks' one loader and
 * synthesizes; every key has a comment; an existing file is never replaced; a bad name is refused.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeNamedKeypair } from "../../../runtime/cli/commands/keygen.js";
import { EXIT_CODES } from "../../../runtime/cli/shared.js";
import { loadEnvironmentFile } from "../../../stacks/environment/load.js";
import { synthesizeEnvironment } from "../../../stacks/kubernetes/manifests.js";
import { runCli } from "./support/run-cli.js";

describe("zeroplane init", () => {
  const dir = mkdtempSync(join(tmpdir(), "zp-init-"));
  const file = join(dir, "Pulumi.qa.yaml");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes Pulumi.<env>.yaml that the loader accepts and that synthesizes", async () => {
    const result = await runCli(["init", "qa", "--dir", dir]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`wrote ${file}`);
    const env = loadEnvironmentFile(file);
    expect(env.environment).toBe("qa");
    expect(env.namespace).toBe("zeroplane-qa");
    expect(env.nats?.replicas).toBe(3);
    expect(env.allowlist).toEqual({ source: "secret", name: "zeroplane-clients" });
    const kinds = synthesizeEnvironment(env).objects.map((object) => object.kind);
    expect(kinds).toContain("NetworkPolicy");
    expect(kinds.filter((kind) => kind === "StatefulSet").length).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it("puts a comment above every key", () => {
    const lines = readFileSync(file, "utf8").split("\n");
    const keys = lines.flatMap((line, i) => (/^ {2}zeroplane:\w+:/.test(line) ? [i] : []));
    expect(keys.length).toBeGreaterThan(8);
    for (const i of keys) expect(lines[i - 1], lines[i]).toMatch(/^ {2}# \S/);
  });

  it("--client-key-file allowlists a client's public key, never a secret key file", async () => {
    const keys = writeNamedKeypair(join(dir, "keys"), "client", false);
    const refused = await runCli(["init", "dev2", "--dir", dir, "--client-key-file", keys.secretKeyFile]);
    expect(refused.code).toBe(EXIT_CODES.usage);
    expect(refused.stderr).toContain("looks like a secret key");
    const result = await runCli(["init", "dev2", "--dir", dir, "--client-key-file", keys.publicKeyFile]);
    expect(result.code, result.stderr).toBe(0);
    const env = loadEnvironmentFile(join(dir, "Pulumi.dev2.yaml"));
    expect(env.allowlist).toEqual({ source: "publicKeys", publicKeys: [keys.publicKey] });
    expect(synthesizeEnvironment(env).objects.length).toBeGreaterThan(10);
    expect(readFileSync(join(dir, "Pulumi.dev2.yaml"), "utf8")).not.toContain(keys.secretKey);
  }, 120_000);

  it("never replaces an existing file (exit 5)", async () => {
    writeFileSync(file, "# mine\n");
    const result = await runCli(["init", "qa", "--dir", dir]);
    expect(result.code).toBe(EXIT_CODES.localFile);
    expect(result.stderr).toContain("already exists; refusing to replace it");
    expect(readFileSync(file, "utf8")).toBe("# mine\n");
  }, 60_000);

  it("refuses a name that is not a DNS label (exit 2), naming the fix", async () => {
    const result = await runCli(["init", "QA_1", "--dir", dir]);
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toMatch(/environment name must be a DNS label; got "QA_1"\. Fix: /);
  }, 60_000);
});
