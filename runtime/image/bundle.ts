/**
 * Builds the runtime image's application directory. The Dockerfile's builder stage runs it:
 *
 *   tsx runtime/image/bundle.ts OUT [ENTRY]      (ENTRY defaults to runtime/cli/main.ts)
 *
 * OUT/package.json                   name, version and module type (runtime/version.ts reads the version)
 * OUT/bin/zeroplane.mjs              the `zeroplane` CLI (server, keygen, ...) bundled as ES modules,
 * OUT/bin/chunks/*.mjs               with the lazily loaded parts (the server) split into chunks
 * OUT/bin/zeroplane-runner.mjs       the runner process on its own (runner.mode process): it loads
 *                                    only what the runner needs, and a smaller process forks faster
 * OUT/node_modules/zeromq            zeromq's JavaScript plus only the linux x64 glibc addon for this Node ABI
 * OUT/node_modules/cmake-ts          the addon loader that zeromq requires
 *
 * zeromq stays external: it is a native addon that finds its binary relative to its own package.
 */
import { build, type Plugin } from "esbuild";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { RUNNER_BUNDLE_NAME } from "../config/names.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The CLI entry point bundled into the image. */
export const CLI_ENTRY = "runtime/cli/main.ts";

/**
 * CommonJS dependencies bundled into an ES module still call require() and read __dirname.
 * esbuild's require() helper looks for a `require` in scope; __dirname and __filename are mapped
 * (with `define`, which only touches free references) to prefixed names that cannot clash.
 */
const ESM_SHIMS = [
  'import { createRequire as __zpCreateRequire } from "node:module";',
  'import { fileURLToPath as __zpFileURLToPath } from "node:url";',
  'import { dirname as __zpDirname } from "node:path";',
  "const require = __zpCreateRequire(import.meta.url);",
  "const __zpFilename = __zpFileURLToPath(import.meta.url);",
  "const __zpDirnameValue = __zpDirname(__zpFilename);",
].join("\n");

interface PackageJson {
  name: string;
  version: string;
}

function fail(message: string): never {
  throw new Error(`bundle: ${message}`);
}

/**
 * Bundles the CLI into OUT/bin/zeroplane.mjs, executable, with a node shebang. Code splitting keeps
 * each dynamically imported module (the server, loaded only by `zeroplane server`) in its own chunk
 * under OUT/bin/chunks: the other commands start without parsing the server, and every module that
 * compares its own import.meta.url with the entry script (an "am I the entry point?" check) sees
 * the same answer as when run from the sources.
 */
/**
 * The image is built from runtime/ alone, so the kit (stacks/, constructs/, policies/) that `init`
 * imports lazily stays out, as it would be missing in the image's build context: `init` then says
 * it needs a checkout of the kit.
 */
const leaveOutTheKit: Plugin = {
  name: "leave-out-the-kit",
  setup(build) {
    build.onResolve({ filter: /(^|\/)(stacks|constructs|policies)\// }, (args) =>
      args.importer.includes("/runtime/") ? { path: args.path, external: true } : undefined,
    );
  },
};

async function bundleCli(out: string, entryPath: string): Promise<void> {
  const entry = resolve(repoRoot, entryPath);
  if (!existsSync(entry)) fail(`${entryPath} does not exist. Fix: build from a checkout that has the CLI.`);
  const outdir = join(out, "bin");
  const result = await build({
    entryPoints: { zeroplane: entry },
    outdir,
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["zeromq", "zeromq/*"],
    plugins: [leaveOutTheKit],
    banner: { js: ESM_SHIMS },
    define: { __filename: "__zpFilename", __dirname: "__zpDirnameValue" },
    legalComments: "linked",
    sourcemap: false,
    logLevel: "warning",
    absWorkingDir: repoRoot,
  });
  if (result.errors.length) fail(`esbuild reported ${result.errors.length} error(s)`);
  const outfile = join(outdir, "zeroplane.mjs");
  let code = readFileSync(outfile, "utf8");
  if (!code.startsWith("#!")) code = `#!/usr/bin/env node\n${code}`;
  writeFileSync(outfile, code);
  chmodSync(outfile, 0o755);
}

/**
 * Bundles the runner's entry into OUT/bin/zeroplane-runner.mjs, which the server starts in place of
 * `zeroplane runner` when it is there (runtime/runner/remote/connect.ts). It imports no zeromq, zod
 * or pino: half the memory of the CLI, and every agent's fork copies less.
 */
async function bundleRunner(out: string): Promise<void> {
  const result = await build({
    entryPoints: [resolve(repoRoot, "runtime/runner/main.ts")],
    outfile: join(out, "bin", RUNNER_BUNDLE_NAME),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    banner: { js: ESM_SHIMS },
    define: { __filename: "__zpFilename", __dirname: "__zpDirnameValue" },
    legalComments: "linked",
    logLevel: "warning",
    absWorkingDir: repoRoot,
  });
  if (result.errors.length) fail(`esbuild reported ${result.errors.length} error(s) for the runner`);
}

/** Copies files under `from` to `to` when `keep(relativePath)` says so. */
function copyFiltered(from: string, to: string, keep: (path: string) => boolean): void {
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const rel = relative(from, path);
      if (statSync(path).isDirectory()) walk(path);
      else if (keep(rel)) cpSync(path, join(to, rel));
    }
  };
  walk(from);
}

/** One entry of zeromq's build/manifest.json: a JSON-encoded build config mapped to an addon path. */
interface AddonConfig {
  os: string;
  arch: string;
  libc: string;
  abi: number;
}

/**
 * Ships zeromq with only the addon this image loads: linux, x64, glibc. zeromq's loader tries its
 * addons from the highest Node ABI down (they use N-API, so a newer ABI tag still loads on Node 20),
 * and some need a newer glibc than Debian bookworm's. Try them in the same order here, in the builder
 * stage (same base image as the final stage), and keep the first that loads.
 */
function stageZeromq(out: string): void {
  const source = join(repoRoot, "node_modules", "zeromq");
  const target = join(out, "node_modules", "zeromq");
  const manifestPath = join(source, "build", "manifest.json");
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Record<string, string>;
  const candidates = Object.entries(manifest)
    .map(([key, addonPath]) => ({ key, addonPath, config: JSON.parse(key) as AddonConfig }))
    .filter(({ config }) => config.os === "linux" && config.arch === "x64" && config.libc === "glibc")
    .sort((a, b) => b.config.abi - a.config.abi);
  const failures: string[] = [];
  const chosen = candidates.find(({ addonPath }) => {
    try {
      process.dlopen({ exports: {} }, join(source, "build", addonPath));
      return true;
    } catch (error) {
      failures.push(`${addonPath}: ${(error as Error).message.split("\n")[0]}`);
      return false;
    }
  });
  if (!chosen) {
    fail(
      `no linux x64 glibc zeromq addon loads on Node ${process.version} here. Tried:\n  ${failures.join("\n  ") || "(none in the manifest)"}\nFix: use a zeromq release with a prebuilt addon for this glibc.`,
    );
  }
  const { key, addonPath } = chosen;
  console.log(`bundle: zeromq addon ${addonPath}`);

  copyFiltered(
    source,
    target,
    (path) =>
      path === "package.json" ||
      path.startsWith("LICENSE") ||
      (path.endsWith(".js") &&
        !path.startsWith(".") &&
        !path.startsWith("script/") &&
        !path.startsWith("src/")),
  );
  cpSync(join(source, "build", addonPath), join(target, "build", addonPath));
  // A manifest naming only the shipped addon, so the loader never tries (and warns about) the others.
  writeFileSync(join(target, "build", "manifest.json"), JSON.stringify({ [key]: addonPath }));

  const loaderSource = join(repoRoot, "node_modules", "cmake-ts");
  const loaderTarget = join(out, "node_modules", "cmake-ts");
  copyFiltered(
    loaderSource,
    loaderTarget,
    (path) => path === "package.json" || path === "build/loader.js" || path === "build/loader.mjs",
  );
}

/** Writes the app's package.json: runtime/version.ts reads the version from it. */
function writePackageJson(out: string): void {
  const root = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as PackageJson;
  const app = { name: root.name, version: root.version, private: true, type: "module" };
  writeFileSync(join(out, "package.json"), `${JSON.stringify(app, null, 2)}\n`);
}

async function main(): Promise<void> {
  const outArg = process.argv[2];
  if (!outArg) fail("usage: tsx runtime/image/bundle.ts OUT_DIR [ENTRY]");
  const out = resolve(outArg);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  writePackageJson(out);
  await bundleCli(out, process.argv[3] ?? CLI_ENTRY);
  await bundleRunner(out);
  stageZeromq(out);
  console.log(`bundle: wrote ${out}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
