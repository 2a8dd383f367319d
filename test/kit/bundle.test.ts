/**
 * The deployment kit (constructs, stacks, policies) reaches the runtime only through
 * runtime/config/names.ts and runtime/protocol: bundled with everything it imports, it carries
 * none of the server's packages, so synthesis and policy checks never load ZeroMQ, NATS,
 * Prometheus or the logger. eslint.config.js enforces the same seam on each import.
 */
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const KIT_FOLDERS = ["constructs", "stacks", "policies"] as const;
const RUNTIME_PACKAGES = ["zeromq", "nats", "prom-client", "pino"] as const;

/** Every TypeScript source of the kit, as a bundle entry point. */
function kitSources(): string[] {
  return KIT_FOLDERS.flatMap((folder) =>
    readdirSync(join(repoRoot, folder), { recursive: true, encoding: "utf8" })
      .filter((path) => path.endsWith(".ts"))
      .map((path) => join(folder, path)),
  );
}

/** Bundles the entry points with all their dependencies; returns every input file esbuild read. */
async function bundleInputs(entryPoints: string[]): Promise<string[]> {
  const result = await build({
    absWorkingDir: repoRoot,
    entryPoints,
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    outdir: "kit-bundle",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  return Object.keys(result.metafile.inputs);
}

/** The npm packages among the inputs (`@scope/name` or `name`). */
function packagesOf(inputs: string[]): Set<string> {
  const names = inputs.map((path) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1]);
  return new Set(names.filter((name): name is string => name !== undefined));
}

describe("the kit bundle (constructs, stacks, policies)", () => {
  let inputs: string[];

  beforeAll(async () => {
    inputs = await bundleInputs(kitSources());
  }, 120_000);

  it("bundles every kit source, with cdk8s, Pulumi and the policy SDK", () => {
    expect(inputs).toContain("constructs/zeroplane-platform.ts");
    expect(inputs).toContain("stacks/program.ts");
    expect(inputs).toContain("policies/rules/index.ts");
    const packages = packagesOf(inputs);
    for (const name of ["cdk8s", "@pulumi/pulumi", "@pulumi/policy"]) expect(packages).toContain(name);
  });

  it("contains none of zeromq, nats, prom-client or pino", () => {
    const packages = packagesOf(inputs);
    expect(RUNTIME_PACKAGES.filter((name) => packages.has(name))).toEqual([]);
  });

  it("takes from runtime/ only the shared names and the protocol", () => {
    const fromRuntime = inputs.filter((path) => path.startsWith("runtime/"));
    expect(fromRuntime).toContain("runtime/config/names.ts");
    expect(
      fromRuntime.filter(
        (path) => path !== "runtime/config/names.ts" && !path.startsWith("runtime/protocol/"),
      ),
    ).toEqual([]);
  });

  it("would notice a runtime package: the server's metrics bundle prom-client", async () => {
    const packages = packagesOf(await bundleInputs(["runtime/events/metrics.ts"]));
    expect(packages).toContain("prom-client");
  });
});
