/**
 * Client contexts: the file under $XDG_CONFIG_HOME, `context list|use|show`, and where each setting
 * comes from: flag, then ZEROPLANE_* variable, then client config file, then the context, then defaults.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { contextsPath, readContexts, saveContext } from "../../../runtime/cli/contexts.js";
import { CliError, EXIT_CODES, DEFAULT_ENDPOINT, resolveClientOptions } from "../../../runtime/cli/shared.js";
import { writeNamedKeypair } from "../../../runtime/cli/commands/keygen.js";
import { thrown } from "../../support/thrown.js";
import { runCli } from "./support/run-cli.js";

describe("client contexts", () => {
  const root = mkdtempSync(join(tmpdir(), "zp-contexts-"));
  const env = { XDG_CONFIG_HOME: join(root, "config") };
  const file = contextsPath(env);
  const keys = writeNamedKeypair(join(root, "keys"), "server", false);
  const client = writeNamedKeypair(join(root, "keys"), "client", false);
  saveContext(file, "one", {
    endpoints: ["tcp://127.0.0.1:7001", "tcp://127.0.0.1:7003"],
    publishEndpoints: ["tcp://127.0.0.1:7002", "tcp://127.0.0.1:7004"],
    serverPublicKeyFile: keys.publicKeyFile,
    clientSecretKeyFile: client.secretKeyFile,
    timeoutMs: 1234,
  });
  saveContext(file, "two", { endpoints: ["tcp://127.0.0.1:7100"] });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("lives in $XDG_CONFIG_HOME/zeroplane/config.yaml, mode 0600, the last saved one current", () => {
    expect(file).toBe(join(root, "config", "zeroplane", "config.yaml"));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readContexts(file).current).toBe("two");
    expect(readFileSync(file, "utf8")).not.toContain(client.secretKey);
  });

  it("the current context applies when no flag, variable or config file says otherwise", () => {
    const options = resolveClientOptions({}, env);
    expect(options.endpoints).toEqual(["tcp://127.0.0.1:7100"]);
    expect(options.curve).toBeNull();
    const chosen = resolveClientOptions({ context: "one" }, env);
    expect(chosen.endpoints).toEqual(["tcp://127.0.0.1:7001", "tcp://127.0.0.1:7003"]);
    expect(chosen.publishEndpoints).toEqual(["tcp://127.0.0.1:7002", "tcp://127.0.0.1:7004"]);
    expect(chosen.curve).toEqual({
      serverPublicKey: keys.publicKey,
      publicKey: client.publicKey,
      secretKey: client.secretKey,
    });
    expect(chosen.timeoutMs).toBe(1234);
    expect(resolveClientOptions({}, { ...env, ZEROPLANE_CONTEXT: "one" }).endpoints).toHaveLength(2);
  });

  it("a flag beats a variable, which beats a config file, which beats the context", () => {
    const config = join(root, "client.yaml");
    writeFileSync(config, "endpoints: [tcp://127.0.0.1:7300]\n");
    const withAll = { ...env, ZEROPLANE_CONTEXT: "one", ZEROPLANE_CLIENT_CONFIG: config };
    expect(resolveClientOptions({}, withAll).endpoints).toEqual(["tcp://127.0.0.1:7300"]);
    const withVariable = { ...withAll, ZEROPLANE_ENDPOINTS: "tcp://127.0.0.1:7200" };
    const fromVariable = resolveClientOptions({}, withVariable);
    expect(fromVariable.endpoints).toEqual(["tcp://127.0.0.1:7200"]);
    // The context's PUB endpoints belong to its own endpoints only.
    expect(fromVariable.publishEndpoints).toBeUndefined();
    expect(resolveClientOptions({ endpoint: ["tcp://127.0.0.1:7400"] }, withVariable).endpoints).toEqual([
      "tcp://127.0.0.1:7400",
    ]);
    expect(resolveClientOptions({ timeout: 99 }, withVariable).timeoutMs).toBe(99);
    expect(resolveClientOptions({}, { ...withVariable, ZEROPLANE_CLIENT_TIMEOUT_MS: "77" }).timeoutMs).toBe(
      77,
    );
  });

  it("no contexts file: the default endpoint", () => {
    const options = resolveClientOptions({}, { XDG_CONFIG_HOME: join(root, "empty") });
    expect(options.endpoints).toEqual([DEFAULT_ENDPOINT]);
  });

  it("an unknown context is a usage error listing the known ones", () => {
    const error = thrown(() => resolveClientOptions({ context: "three" }, env));
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(EXIT_CODES.usage);
    expect((error as Error).message).toMatch(
      /no context named "three" in .*config\.yaml\. Fix: use one of one, two/,
    );
  });

  it("a malformed contexts file names the bad entry", () => {
    const badEnv = { XDG_CONFIG_HOME: join(root, "bad") };
    saveContext(contextsPath(badEnv), "x", { endpoints: ["tcp://127.0.0.1:1"] });
    writeFileSync(
      contextsPath(badEnv),
      "current: x\ncontexts:\n  x:\n    endpoints: []\n    clientSecretKey: abc\n",
    );
    const error = thrown(() => resolveClientOptions({}, badEnv));
    expect((error as CliError).exitCode).toBe(EXIT_CODES.usage);
    expect((error as Error).message).toMatch(/config\.yaml has a bad entry at "contexts\.x[."]/);
  });

  it("context list, use and show", async () => {
    const list = await runCli(["context", "list"], { env });
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^\*\s+two\s+tcp:\/\/127\.0\.0\.1:7100\s+off$/m);
    expect(list.stdout).toMatch(/^-\s+one\s+tcp:\/\/127\.0\.0\.1:7001,tcp:\/\/127\.0\.0\.1:7003\s+on$/m);
    const use = await runCli(["context", "use", "one"], { env });
    expect(use.code, use.stderr).toBe(0);
    expect(readContexts(file).current).toBe("one");
    const show = await runCli(["context", "show"], { env });
    expect(show.stdout).toMatch(/^name: +one$/m);
    expect(show.stdout).toContain(keys.publicKeyFile);
    const missing = await runCli(["context", "use", "nope"], { env });
    expect(missing.code).toBe(EXIT_CODES.usage);
    expect(missing.stderr).toContain('no context named "nope"');
  }, 60_000);
});
