/**
 * The image's application directory, as runtime/image/bundle.ts builds it in the Dockerfile's
 * builder stage: the bundled CLI plus zeromq with a single addon. Built once, then run for real.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ZeroplaneClient } from "../../runtime/client/index.js";
import { CURVE_SECRET_KEYS, HTTP_PATHS } from "../../runtime/config/index.js";
import { freePorts } from "../support/ports.js";
import { childrenOf, commandLineOf } from "../support/processes.js";

const run = promisify(execFile);
const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const packageVersion = (
  JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string }
).version;

/** The environment without ZEROPLANE_* variables, so only the flags under test configure the CLI. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("ZEROPLANE_")));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((path) =>
    statSync(join(dir, path)).isFile(),
  );
}

async function waitForHttp200(
  url: string,
  child: ChildProcess,
  deadlineMs: number,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(
        `the server exited with ${child.exitCode} before ${url} answered. Its output:\n${output()}`,
      );
    }
    const status = await fetch(url).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${url} did not answer 200 within ${deadlineMs} ms`);
}

describe("the image bundle (runtime/image/bundle.ts)", () => {
  let out: string;
  let cli: string;
  let scratch: string;

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), "zeroplane-bundle-"));
    await run(process.execPath, ["--import", "tsx", "runtime/image/bundle.ts", out], { cwd: repoRoot });
    cli = join(out, "bin", "zeroplane.mjs");
  }, 120_000);

  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
  });

  afterEach(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("bundles the CLI into an executable ES module, plus chunks, that reports the package version", async () => {
    expect(readFileSync(cli, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(statSync(cli).mode & 0o111).not.toBe(0);
    for (const file of filesUnder(join(out, "bin"))) {
      expect(file).toMatch(/^(zeroplane|zeroplane-runner|chunks\/[\w-]+)\.mjs$/);
      // The kit's synthesis libraries stay out of the image, even behind `init`'s lazy import.
      expect(readFileSync(join(out, "bin", file), "utf8"), file).not.toMatch(/cdk8s|fast-json-patch/);
    }
    const { stdout } = await run(cli, ["--version"], { env: cleanEnv() });
    expect(stdout.trim()).toBe(packageVersion);
  });

  it("leaves the kit out (the image's build context is runtime/ alone): init says it needs a checkout", async () => {
    scratch = mkdtempSync(join(tmpdir(), "zp-bundle-init-"));
    const refused = await run(cli, ["init", "dev", "--dir", scratch], { env: cleanEnv(), cwd: scratch }).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toMatch(/zeroplane init needs the Zeroplane kit .* Fix: run it in a checkout/);
    expect(readdirSync(scratch)).toEqual([]);
  });

  it("ships zeromq with exactly one linux x64 glibc addon, which loads from the bundle", async () => {
    const addons = filesUnder(join(out, "node_modules")).filter((path) => path.endsWith(".node"));
    expect(addons).toHaveLength(1);
    expect(addons[0]).toMatch(/^zeromq\/build\/linux\/x64\/node\/glibc-\d+-Release\/addon\.node$/);
    const manifest = JSON.parse(
      readFileSync(join(out, "node_modules/zeromq/build/manifest.json"), "utf8"),
    ) as Record<string, string>;
    expect(Object.values(manifest)).toEqual([addons[0]!.replace("zeromq/build/", "")]);
    const { stdout, stderr } = await run(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        'const zmq = await import("zeromq"); console.log(zmq.curveKeyPair().publicKey.length)',
      ],
      { cwd: out },
    );
    expect(stdout.trim()).toBe("40");
    expect(stderr).not.toMatch(/Failed to load addon/);
  });

  it("leaves out TypeScript sources, type declarations and source maps", () => {
    const unwanted = filesUnder(out).filter((path) => /\.(ts|map)$/.test(path) && !path.endsWith(".d.ts"));
    const declarations = filesUnder(out).filter((path) => path.endsWith(".d.ts"));
    expect(unwanted).toEqual([]);
    expect(declarations).toEqual([]);
  });

  it("runs keygen (the keygen Job's command) to completion, writing a 0600 secret key", async () => {
    scratch = mkdtempSync(join(tmpdir(), "zeroplane-bundle-keys-"));
    const { stdout } = await run(cli, ["keygen", "--dir", scratch, "--json"], {
      env: cleanEnv(),
      timeout: 30_000,
    });
    const summary = JSON.parse(stdout) as { publicKey: string };
    expect(summary.publicKey).toMatch(/^.{40}$/);
    expect(statSync(join(scratch, CURVE_SECRET_KEYS.secretKey)).mode & 0o777).toBe(0o600);
  });

  it("runs one server that honours the server command's flags, and drains on SIGTERM with exit code 0", async () => {
    scratch = mkdtempSync(join(tmpdir(), "zeroplane-bundle-server-"));
    const [router, publish, http] = await freePorts(3);
    const child = spawn(
      cli,
      [
        "server",
        "--id",
        "bundle-test",
        "--bind",
        `tcp://127.0.0.1:${router}`,
        "--publish-bind",
        `tcp://127.0.0.1:${publish}`,
        "--http-port",
        String(http),
        "--state-dir",
        scratch,
      ],
      { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    const client = await ZeroplaneClient.connect({
      endpoints: `tcp://127.0.0.1:${router}`,
      healthRefreshMs: 0,
    });
    try {
      await waitForHttp200(`http://127.0.0.1:${http}${HTTP_PATHS.readyz}`, child, 30_000, () => output);
      const health = await client.health();
      expect(health.serverId).toBe("bundle-test");
      // Agents run from the runner's own bundle, not from a second copy of the CLI: no zeromq
      // addon in that process (the CLI's runner maps it), so every agent's fork copies less.
      const runner = childrenOf(child.pid!).find((pid) => commandLineOf(pid).startsWith("zeroplane-runner"));
      expect(readFileSync(`/proc/${runner!}/maps`, "utf8")).not.toContain("addon.node");
      expect(readFileSync(`/proc/${child.pid!}/maps`, "utf8")).toContain("addon.node");
      const agent = await client.spawn({ command: "sh", args: ["-c", "printf from-the-runner"] });
      for (let tries = 0; tries < 100 && (await client.get(agent.id)).status !== "exited"; tries++) {
        await new Promise((done) => setTimeout(done, 50));
      }
      const printed = await client.output({ agentId: agent.id, stream: "stdout" });
      expect(Buffer.from(printed.data).toString()).toBe("from-the-runner");
      expect(output).not.toMatch(/error/i);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(output.match(/zeroplane server listening/g)).toHaveLength(1);
    } finally {
      client.close();
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
