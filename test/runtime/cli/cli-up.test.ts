/**
 * `zeroplane up` / `down` end to end: real nats-server processes and real agent servers, then plain
 * CLI commands that find them only through the context `up` wrote, then `down`, and no process left.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect as connectNats } from "nats";
import { parse as parseYaml } from "yaml";
import { EXIT_CODES } from "../../../runtime/cli/shared.js";
import { descendants } from "../../../runtime/cli/local/processes.js";
import { NATS_TOKEN_FILE } from "../../../runtime/cli/local/platform.js";
import { ensureNatsServer } from "../../support/system-tools.js";
import { runCli, type CliResult } from "./support/run-cli.js";

/** Every process whose command line names `marker`. */
function processesNaming(marker: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** True while the pid runs (a zombie counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

describe("zeroplane up and down", () => {
  const root = mkdtempSync(join(tmpdir(), "zp-up-"));
  const dir = join(root, "platform");
  const env = { XDG_CONFIG_HOME: join(root, "config") };
  const contextsFile = join(root, "config", "zeroplane", "config.yaml");
  const zeroplane = (...args: string[]): Promise<CliResult> => runCli(args, { env, timeoutMs: 150_000 });
  let upResult: CliResult;

  beforeAll(async () => {
    ensureNatsServer();
    upResult = await zeroplane("up", "--dir", dir, "--servers", "2");
  }, 160_000);

  afterAll(async () => {
    // Whatever a failed test left running.
    if (existsSync(join(dir, "up.json"))) await zeroplane("down", "--dir", dir);
    for (const pid of processesNaming(dir)) process.kill(pid, "SIGKILL");
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it("starts 3 NATS nodes and 2 servers, and writes a current context with key files, mode 0600", () => {
    expect(upResult.code, upResult.stderr).toBe(0);
    expect(upResult.stdout).toMatch(/nats-1 +pid \d+/);
    expect(upResult.stdout).toMatch(/nats-3 +pid \d+/);
    expect(upResult.stdout).toMatch(/local-2 +pid \d+/);
    const state = JSON.parse(readFileSync(join(dir, "up.json"), "utf8")) as { processes: unknown[] };
    expect(state.processes).toHaveLength(5);
    expect(statSync(contextsFile).mode & 0o777).toBe(0o600);
    const file = parseYaml(readFileSync(contextsFile, "utf8")) as {
      current: string;
      contexts: Record<string, { endpoints: string[]; clientSecretKeyFile: string; natsUrls: string[] }>;
    };
    expect(file.current).toBe("local");
    expect(file.contexts.local!.endpoints).toHaveLength(2);
    expect(file.contexts.local!.natsUrls).toHaveLength(3);
    // Keys by path only: no secret key text in the contexts file.
    const secret = readFileSync(file.contexts.local!.clientSecretKeyFile, "utf8").trim();
    expect(readFileSync(contextsFile, "utf8")).not.toContain(secret);
    expect(statSync(file.contexts.local!.clientSecretKeyFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "keys", "server.key_secret")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, "keys", "allowlist.txt"), "utf8")).toBe(
      readFileSync(join(dir, "keys", "client.key"), "utf8"),
    );
  });

  it("health through the context shows both servers ready, over CURVE", async () => {
    const result = await zeroplane("health", "--json");
    expect(result.code, result.stderr).toBe(0);
    const servers = JSON.parse(result.stdout) as Array<{ ok: boolean; health: { serverId: string } }>;
    expect(servers.map((s) => s.health.serverId).sort()).toEqual(["local-1", "local-2"]);
    const context = await zeroplane("context", "show");
    expect(context.stdout).toMatch(/^server key file: +.*keys\/server\.key$/m);
    const unknown = await zeroplane("health", "--context", "none");
    expect(unknown.code).toBe(EXIT_CODES.usage);
    expect(unknown.stderr).toContain('no context named "none"');
  }, 60_000);

  it("NATS asks for the token up generated (mode 0600, never in the context): without it, no connection", async () => {
    const file = parseYaml(readFileSync(contextsFile, "utf8")) as {
      contexts: { local: { natsUrls: string[]; natsTokenFile: string } };
    };
    const { natsUrls, natsTokenFile } = file.contexts.local;
    expect(natsTokenFile).toBe(join(dir, "keys", NATS_TOKEN_FILE));
    expect(statSync(natsTokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(natsTokenFile, "utf8").trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(contextsFile, "utf8")).not.toContain(token);
    // The node configs hold the token: readable by this user only.
    for (const name of ["nats-1", "nats-2", "nats-3"]) {
      expect(statSync(join(dir, "nats", `${name}.conf`)).mode & 0o777).toBe(0o600);
    }
    for (const url of natsUrls) {
      await expect(connectNats({ servers: url, reconnect: false, timeout: 5_000 })).rejects.toThrow(
        /authorization/i,
      );
      await expect(
        connectNats({ servers: url, reconnect: false, timeout: 5_000, token: "not-the-token" }),
      ).rejects.toThrow(/authorization/i);
    }
    const allowed = await connectNats({ servers: natsUrls[0]!, reconnect: false, token });
    await allowed.close();
  }, 60_000);

  it("the servers refuse a client without the context's keys: CURVE is on", async () => {
    const file = parseYaml(readFileSync(contextsFile, "utf8")) as {
      contexts: { local: { endpoints: string[] } };
    };
    const plaintext = await runCli(["health", "--timeout", "5000"], {
      env: { ZEROPLANE_ENDPOINTS: file.contexts.local.endpoints.join(",") },
    });
    expect(plaintext.code, plaintext.stderr).toBe(EXIT_CODES.auth);
    expect(plaintext.stdout).not.toMatch(/ ready /);
  }, 60_000);

  it("spawn --wait prints the agent's output, and events shows its lifecycle", async () => {
    const spawn = await zeroplane("spawn", "--wait", "--", "sh", "-c", "echo hello-from-up; echo oops >&2");
    expect(spawn.code, spawn.stderr).toBe(0);
    expect(spawn.stdout).toBe("hello-from-up\n");
    expect(spawn.stderr).toMatch(/^oops$/m);
    const agentId = /agent (\S+) on local-\d exited with code 0/.exec(spawn.stderr)?.[1];
    expect(agentId).toBeDefined();
    const events = await zeroplane("events", "--no-follow", "--json", "--agent", agentId!);
    expect(events.code, events.stderr).toBe(0);
    const types = events.stdout
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as { event: { type: string } }).event.type);
    expect(types).toEqual(["spawned", "started", "exited"]);
    // Both servers answer list from the cluster registry: the client shows each agent once.
    const list = await zeroplane("list", "--json");
    expect(list.code, list.stderr).toBe(0);
    const ids = (JSON.parse(list.stdout) as { agents: { id: string }[] }).agents.map((agent) => agent.id);
    expect(ids).toEqual([agentId]);
  }, 60_000);

  it("up on a running directory says so and starts nothing", async () => {
    const before = readFileSync(join(dir, "up.json"), "utf8");
    const again = await zeroplane("up", "--dir", dir);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`already running in ${dir}`);
    expect(readFileSync(join(dir, "up.json"), "utf8")).toBe(before);
  }, 60_000);

  it("down stops every process it started, their children too, and removes the context", async () => {
    const state = JSON.parse(readFileSync(join(dir, "up.json"), "utf8")) as {
      processes: Array<{ pid: number }>;
    };
    const started = state.processes.map((p) => p.pid);
    const everything = [...started, ...descendants(started).map((p) => p.pid)];
    // The servers' runner processes are among the descendants.
    expect(everything.length).toBeGreaterThan(started.length);
    expect(everything.every(alive)).toBe(true);
    const result = await zeroplane("down", "--dir", dir);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("stopped 5 processes");
    expect(everything.filter(alive)).toEqual([]);
    expect(processesNaming(dir)).toEqual([]);
    expect(existsSync(join(dir, "up.json"))).toBe(false);
    const file = parseYaml(readFileSync(contextsFile, "utf8")) as { current: string | null };
    expect(file.current).toBeNull();
    const list = await zeroplane("context", "list");
    expect(list.stdout).not.toContain("local");
  }, 90_000);

  it("a server that cannot start: up stops everything it started and prints the end of its log", async () => {
    const broken = join(root, "broken");
    mkdirSync(join(broken, "keys"), { recursive: true });
    // A corrupt server key, which up reuses like any key an earlier up wrote: the servers refuse it.
    writeFileSync(join(broken, "keys", "server.key"), "not a key\n");
    writeFileSync(join(broken, "keys", "server.key_secret"), "not a key\n", { mode: 0o600 });
    const result = await runCli(["up", "--dir", broken, "--servers", "1"], { env, timeoutMs: 150_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/local-1 exited while starting\. The end of its log .*local-1\.log:\n/);
    expect(result.stderr).toContain("does not hold a 40-character Z85 key");
    expect(processesNaming(broken)).toEqual([]);
    expect(existsSync(join(broken, "up.json"))).toBe(false);
  }, 160_000);

  it("without nats-server on PATH, up exits 2 naming the Debian package, and starts nothing", async () => {
    const withoutNatsServer = (process.env.PATH ?? "")
      .split(":")
      .filter((folder) => folder && !existsSync(join(folder, "nats-server")))
      .join(":");
    const result = await runCli(["up", "--dir", join(root, "no-nats")], {
      env: { ...env, PATH: withoutNatsServer },
    });
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.stderr).toContain("apt-get install nats-server");
    expect(existsSync(join(root, "no-nats", "up.json"))).toBe(false);
  }, 60_000);
});
