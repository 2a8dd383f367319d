/**
 * Every command README.md and docs/client.md give works as written: each is run here in a shell,
 * unchanged except for the placeholders listed in PLACEHOLDERS, or it is in NOT_RUN_HERE with the
 * reason (and, for the commands CI runs, checked to be a step of .ci/run). A command added to those
 * files without either fails the coverage test at the end.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitUntil } from "../runtime/client/support/servers.js";
import { cleanEnv, cliMain, repoRoot } from "../runtime/cli/support/run-cli.js";
import { freePorts } from "../support/ports.js";

/** A command as a document gives it: one line of a ```sh block (split at `&&`), or a code span in a table. */
interface DocCommand {
  readonly file: string;
  readonly line: number;
  readonly command: string;
}

const DOCS = ["README.md", "docs/client.md"] as const;

/** The commands of a Markdown file: ```sh blocks, and code spans in the first column of a table. */
function documentedCommands(file: string): DocCommand[] {
  const lines = readFileSync(join(repoRoot, file), "utf8").split("\n");
  const found: DocCommand[] = [];
  let inShell = false;
  lines.forEach((text, index) => {
    if (/^```/.test(text)) {
      inShell = !inShell && /^```(sh|bash|shell)\s*$/.test(text);
      return;
    }
    const add = (command: string) => found.push({ file, line: index + 1, command: command.trim() });
    if (inShell) {
      const withoutComment = text.replace(/\s+#.*$/, "").trim();
      if (withoutComment) withoutComment.split(/\s+&&\s+/).forEach(add);
    } else if (/^\| `/.test(text)) {
      const firstCell = text.split(/(?<!\\)\|/)[1] ?? "";
      for (const match of firstCell.matchAll(/`([^`]+)`/g)) {
        // Tables also name options and variables in code: only commands count.
        if (/^(npm|pulumi|zeroplane|curl) /.test(match[1]!)) add(match[1]!.replaceAll("\\|", "|"));
      }
    }
  });
  return found;
}

/** The placeholders documents use, and what this test puts in their place. */
const PLACEHOLDERS = {
  "<agent-id>": "the id the documented spawn printed",
  "<dir|file>": "deploy/prod",
  ":9090": "the free port the server's HTTP listener was given (ZEROPLANE_HTTP_PORT)",
} as const;

const CI_STEP = "a step of .ci/run (checked below), so CI runs it exactly as written";
const PULUMI =
  "needs the Pulumi CLI, a state backend and a cluster; test/stacks runs the program with setMocks";

/** Commands not run by this test, and why. Each must still appear in the documents. */
const NOT_RUN_HERE: Record<string, string> = {
  "npm ci": `${CI_STEP}; inside the suite it would replace the node_modules the suite runs from`,
  "npm test": `${CI_STEP}; inside the suite it would run this test again`,
  "npm run lint": CI_STEP,
  "npm run typecheck": CI_STEP,
  "npm run image": CI_STEP,
  "npm run synth":
    "writes deploy/ into the checkout under test; `npm run synth -- --check` runs here and fails on any difference from what it would write",
  "npm run bench": "minutes of full load on every core; bench/ is exercised by its own runs, not the suite",
  "pulumi login": PULUMI,
  "pulumi stack select --create prod": PULUMI,
  "pulumi config set --secret --path 'zeroplane:kubernetes.kubeconfig' \"$(cat ~/.kube/prod)\"": PULUMI,
  "pulumi up": PULUMI,
  "pulumi stack output curvePublicKey": PULUMI,
};

const ran = new Set<string>();

interface ShellResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a documented command with bash in `cwd`, recording it as run. */
/** `bash -c command` in its own process group (so killGroup ends all of it), its output piped. */
function spawnShell(command: string, options: { cwd?: string; env?: NodeJS.ProcessEnv }) {
  return spawn("bash", ["-c", command], {
    cwd: options.cwd ?? repoRoot,
    env: cleanEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
}

function shell(
  command: string,
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; documented?: string } = {},
): Promise<ShellResult> {
  ran.add(options.documented ?? command);
  return new Promise((resolve, reject) => {
    const child = spawnShell(command, options);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => killGroup(child), options.timeoutMs ?? 60_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running documented command (a server), in its own process group. */
interface Background {
  readonly child: ChildProcess;
  output(): string;
  /** Ctrl-C: SIGINT to the whole process group; resolves once every process in it has closed its output. */
  stop(): Promise<void>;
}

function background(command: string, options: { cwd?: string; env: NodeJS.ProcessEnv }): Background {
  ran.add(command);
  const child = spawnShell(command, options);
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  // "close": every process of the group (npm, tsx, the server) has let go of the pipes.
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  return {
    child,
    output: () => output,
    stop: () => {
      if (child.exitCode === null) process.kill(-child.pid!, "SIGINT");
      return closed;
    },
  };
}

function killGroup(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

async function waitForServer(server: Background): Promise<void> {
  await waitUntil(
    () => server.output().includes("zeroplane server running") || server.child.exitCode !== null,
    60_000,
    "the documented server to start",
  );
  expect(server.child.exitCode, server.output()).toBeNull();
}

/** The environment that puts a documented server and client on free ports. */
async function freePortEnv(stateDir: string): Promise<NodeJS.ProcessEnv & { httpPort: string }> {
  const [router, publish, http] = (await freePorts(3)) as [number, number, number];
  return {
    ZEROPLANE_SERVER_BIND: `tcp://127.0.0.1:${router}`,
    ZEROPLANE_SERVER_PUBLISH_BIND: `tcp://127.0.0.1:${publish}`,
    ZEROPLANE_HTTP_PORT: String(http),
    ZEROPLANE_RUNNER_STATE_DIR: stateDir,
    ZEROPLANE_ENDPOINTS: `tcp://127.0.0.1:${router}`,
    ZEROPLANE_PUBLISH_ENDPOINTS: `tcp://127.0.0.1:${publish}`,
    httpPort: String(http),
  };
}

const scratch = mkdtempSync(join(tmpdir(), "zp-doc-commands-"));
const started: Background[] = [];
afterAll(() => {
  for (const server of started) killGroup(server.child);
  rmSync(scratch, { recursive: true, force: true });
});

describe("README.md: GitOps", () => {
  const sarif = join(repoRoot, "policy.sarif");
  const hadSarif = existsSync(sarif);
  afterAll(() => {
    if (!hadSarif) rmSync(sarif, { force: true });
  });

  it("`npm run synth -- --check` passes on the committed deploy/", async () => {
    const result = await shell("npm run synth -- --check", { timeoutMs: 300_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("deploy matches a fresh synthesis.");
  }, 310_000);

  it("`npm run policy -- deploy/prod --format sarif --output policy.sarif` writes valid SARIF 2.1.0", async () => {
    const result = await shell("npm run policy -- deploy/prod --format sarif --output policy.sarif");
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(readFileSync(sarif, "utf8")) as { version: string; runs: unknown[] };
    expect(report.version).toBe("2.1.0");
    expect(report.runs).toHaveLength(1);
  }, 70_000);

  it("`npm run policy -- <dir|file>` checks a folder", async () => {
    const result = await shell("npm run policy -- deploy/prod", {
      documented: "npm run policy -- <dir|file>",
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /environment prod \(from the deploy\/<env> folder\).*\n[\s\S]*0 error\(s\)/,
    );
  }, 70_000);

  it("`npm run build` compiles the CLI the package's bin names", async () => {
    const result = await shell("npm run build", { timeoutMs: 300_000 });
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const bin = (
      JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { bin: Record<string, string> }
    ).bin.zeroplane!;
    expect(existsSync(join(repoRoot, bin))).toBe(true);
  }, 310_000);
});

describe("README.md and docs/client.md: the agent server locally", () => {
  let env: Awaited<ReturnType<typeof freePortEnv>>;
  let server: Background;
  let agentId = "";
  beforeAll(async () => {
    env = await freePortEnv(join(scratch, "local-state"));
    server = background("npm run zeroplane -- server", { env });
    started.push(server);
    await waitForServer(server);
  }, 70_000);

  it("`npm run zeroplane -- spawn -- echo hello` starts an agent and prints its id", async () => {
    const result = await shell("npm run zeroplane -- spawn -- echo hello", { env });
    expect(result.code, result.stderr).toBe(0);
    agentId = /^id:\s+(\S+)$/m.exec(result.stdout)?.[1] ?? "";
    expect(agentId).toMatch(/^[0-9a-f-]{36}$/);
  }, 60_000);

  it("`npm run zeroplane -- spawn -- sh -c 'echo hello; sleep 5'` starts an agent", async () => {
    const result = await shell("npm run zeroplane -- spawn -- sh -c 'echo hello; sleep 5'", { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^command:\s+sh -c echo hello; sleep 5$/m);
  }, 60_000);

  it("`npm run zeroplane -- list` lists the agents", async () => {
    const result = await shell("npm run zeroplane -- list", { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(agentId);
  }, 60_000);

  it("`npm run zeroplane -- logs <agent-id> --follow` (and `logs --follow <agent-id>`) prints the output", async () => {
    for (const documented of [
      "npm run zeroplane -- logs <agent-id> --follow",
      "npm run zeroplane -- logs --follow <agent-id>",
    ]) {
      const result = await shell(documented.replace("<agent-id>", agentId), { env, documented });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^hello$/m);
    }
  }, 90_000);

  it("`curl localhost:9090/metrics` serves Prometheus metrics", async () => {
    const documented = "curl localhost:9090/metrics";
    const result = await shell(documented.replace(":9090", `:${env.httpPort}`), { env, documented });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^# TYPE zeroplane_\w+/m);
  }, 30_000);

  it("`npm run zeroplane -- server` drains and stops on Ctrl-C", async () => {
    await server.stop();
    expect(server.output()).toMatch(
      /"signal":"SIGINT","msg":"shutdown requested"[\s\S]*"msg":"shutdown complete"/,
    );
  }, 60_000);
});

/**
 * `zeroplane` as docs/client.md defines it: the CLI on PATH. Returns the PATH that has it. `--import tsx`
 * would resolve tsx from the command's folder: the wrapper names the loader by its path instead.
 */
function zeroplaneOnPath(): string {
  const bin = join(scratch, "bin");
  mkdirSync(bin, { recursive: true });
  const tsx = pathToFileURL(join(repoRoot, "node_modules/tsx/dist/loader.mjs")).href;
  writeFileSync(
    join(bin, "zeroplane"),
    `#!/bin/sh\nexec "${process.execPath}" --import "${tsx}" "${cliMain}" "$@"\n`,
  );
  chmodSync(join(bin, "zeroplane"), 0o755);
  return `${bin}:${process.env.PATH ?? ""}`;
}

describe("docs/client.md: a server with CURVE", () => {
  // Run from a scratch folder so keys/ lands there.
  const work = join(scratch, "curve");
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const ports = await freePortEnv(join(scratch, "curve-state"));
    env = { ...ports, PATH: zeroplaneOnPath() };
  });

  it("keygen, allowlist, server and an authenticated health check, as written", async () => {
    for (const command of [
      "zeroplane keygen --dir keys",
      "zeroplane keygen --dir keys --name client",
      "cp keys/client.key keys/allowlist.txt",
    ]) {
      const result = await shell(command, { cwd: work, env });
      expect(result.code, `${command}: ${result.stderr}`).toBe(0);
    }
    const server = background(
      "zeroplane server --secret-key-file keys/server.key_secret --allowlist-file keys/allowlist.txt",
      { cwd: work, env },
    );
    started.push(server);
    await waitForServer(server);
    expect(server.output()).toContain("CURVE on");
    const health = await shell(
      "zeroplane health --server-key-file keys/server.key --client-key-file keys/client.key_secret",
      { cwd: work, env },
    );
    expect(health.code, health.stderr).toBe(0);
    expect(health.stdout).toMatch(/ ready /);
    await server.stop();
    expect(server.output()).toContain('"msg":"shutdown complete"');
  }, 180_000);
});

describe("docs/client.md: the whole platform on one machine", () => {
  // The contexts file and up's default directory in the scratch folder, not the home of whoever runs this.
  const home = join(scratch, "up-home");
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    env = {
      PATH: zeroplaneOnPath(),
      XDG_CONFIG_HOME: join(home, "config"),
      XDG_STATE_HOME: join(home, "state"),
    };
  });
  afterAll(async () => {
    // A failed step must not leave the platform running.
    if (existsSync(join(home, "state", "zeroplane", "local", "up.json")))
      await shell("zeroplane down", { env });
  }, 60_000);

  it("up, health, spawn --wait, events and down, as written", async () => {
    const up = await shell("zeroplane up", { env, timeoutMs: 150_000 });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toContain(`running in ${join(home, "state", "zeroplane", "local")}`);
    const health = await shell("zeroplane health", { env });
    expect(health.code, health.stderr).toBe(0);
    expect(health.stdout.match(/ ready /g)).toHaveLength(2);
    const spawn = await shell("zeroplane spawn --wait -- echo hello", { env });
    expect(spawn.code, spawn.stderr).toBe(0);
    expect(spawn.stdout).toBe("hello\n");
    const events = await shell("zeroplane events --no-follow", { env });
    expect(events.code, events.stderr).toBe(0);
    expect(events.stdout).toMatch(/ exited +seq=3 status=exited/);
    const down = await shell("zeroplane down", { env, timeoutMs: 90_000 });
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain("stopped 5 processes");
  }, 400_000);
});

describe("documented commands", () => {
  const commands = DOCS.flatMap(documentedCommands);

  it("finds the commands of README.md and docs/client.md", () => {
    expect(commands.filter((c) => c.file === "README.md").length).toBeGreaterThan(10);
    expect(commands.filter((c) => c.file === "docs/client.md").length).toBeGreaterThan(5);
  });

  it("lists only commands the documents give, and the CI steps are steps of .ci/run", () => {
    const given = new Set(commands.map((c) => c.command));
    for (const command of Object.keys(NOT_RUN_HERE)) expect(given, command).toContain(command);
    const ciSteps = readFileSync(join(repoRoot, ".ci/run"), "utf8")
      .split("\n")
      .map((line) => line.trim());
    for (const [command, reason] of Object.entries(NOT_RUN_HERE)) {
      if (reason.startsWith(CI_STEP)) expect(ciSteps, command).toContain(command);
    }
    expect(Object.keys(PLACEHOLDERS).every((p) => commands.some((c) => c.command.includes(p)))).toBe(true);
  });

  // Last in the file: the tests above have run every command they cover.
  it("runs every documented command, or says in NOT_RUN_HERE why not", () => {
    const uncovered = commands.filter((c) => !ran.has(c.command) && !(c.command in NOT_RUN_HERE));
    expect(uncovered.map((c) => `${c.file}:${c.line}: ${c.command}`)).toEqual([]);
  });
});
