/**
 * The separate runner keeps agents away from the server's identity. Run as root (as CI does), with a
 * real second uid: agents run as the agent uid (10002), and a hostile agent cannot read the server's
 * key, allowlist or NATS password files, its environment or memory, cannot signal it, and cannot
 * reach the runner's socket. The runner serves one connection per lifetime and takes its agents
 * down when that connection drops.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { curveKeyPair } from "zeromq";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { AGENT_DEFAULT_UID, AGENT_DEFAULT_GID, DEFAULT_PATHS } from "../../../runtime/config/index.js";
import type { AgentInfo } from "../../../runtime/protocol/index.js";
import { COALESCE_BYTES, FrameWriter, readFrames } from "../../../runtime/runner/remote/frames.js";
import { runnerReadyFile } from "../../../runtime/runner/main.js";
import { LISTENING_LINE, runnerCommandArgs } from "../../../runtime/runner/remote/connect.js";
import type { RunnerMessage } from "../../../runtime/runner/remote/messages.js";
import {
  rssBytes,
  startServerProcess,
  testServerConfig,
  type ServerProcess,
} from "../../support/server-process.js";
import { WireClient } from "../server/wire-client.js";
import { childrenOf } from "../../support/processes.js";
import { alive, waitFor } from "./helpers.js";

/** Tries each attack and prints one line per attempt: what it tried, then OPENED/DELIVERED/CONNECTED or the error. */
const HOSTILE_AGENT = String.raw`
use Socket;
my ($server_pid, @files) = @ARGV;
print "uid $<\n";
for my $f (@files, "/proc/$server_pid/environ", "/proc/$server_pid/mem") {
  if (open(my $fh, "<", $f)) { print "read $f: OPENED\n" } else { print "read $f: $!\n" }
}
print "signal $server_pid: ", (kill("TERM", $server_pid) ? "DELIVERED" : "$!"), "\n";
for my $path (glob("/tmp/zeroplane-runner-*/runner.sock"), grep { length } split(/:/, $ENV{RUNNER_SOCKETS} // "")) {
  socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
  print "connect $path: ", (connect($s, pack_sockaddr_un($path)) ? "CONNECTED" : "$!"), "\n";
}
print "env ", join(" ", map { "$_=$ENV{$_}" } sort keys %ENV), "\n";
`;

const SECRET_ENV_VALUE = "s3cr3t-in-the-server-environment";
const cleanups: Array<() => unknown> = [];

beforeAll(() => {
  if (process.getuid?.() !== 0) {
    throw new Error("these tests switch uids and must run as root, as CI does (sudo npx vitest run ...)");
  }
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A directory anyone may enter, holding `files` readable by root only (as mounted Secrets are). */
function secretFiles(files: Record<string, string>): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), "zeroplane-secrets-"));
  chmodSync(dir, 0o755);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const paths: Record<string, string> = {};
  for (const [name, content] of Object.entries(files)) {
    paths[name] = join(dir, name);
    writeFileSync(paths[name], content, { mode: 0o600 });
  }
  return paths;
}

async function waitForEnd(client: WireClient, agentId: string): Promise<AgentInfo> {
  return waitFor(`agent ${agentId} to end`, async () => {
    const info = await client.request("get", { agentId });
    return ["exited", "killed", "failed", "timed_out"].includes(info.status) ? info : null;
  });
}

async function stdoutOf(client: WireClient, agentId: string): Promise<string> {
  const output = await client.request("output", { agentId, limit: 1024 * 1024 });
  return Buffer.from(output.data).toString("utf8");
}

function uidOf(pid: number): number {
  const match = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1]);
}

describe("a server that starts its own runner (mode process, as root)", () => {
  let server: ServerProcess;
  let client: WireClient;
  let files: Record<string, string>;

  async function startServer(): Promise<void> {
    const serverKeys = curveKeyPair();
    const clientKeys = curveKeyPair();
    files = secretFiles({
      "server.key_secret": serverKeys.secretKey,
      "allowlist.txt": `${clientKeys.publicKey}\n`,
      "nats-password": "nats-pass-word\n",
    });
    server = await startServerProcess({
      config: testServerConfig({
        security: {
          curve: true,
          secretKeyFile: files["server.key_secret"],
          allowlistFile: files["allowlist.txt"],
        },
        nats: { passwordFile: files["nats-password"] },
        runner: { mode: "process" },
      }),
      env: { AWS_SECRET_ACCESS_KEY: SECRET_ENV_VALUE },
    });
    cleanups.push(() => server.dispose());
    client = new WireClient(server.endpoints.router, {
      serverPublicKey: serverKeys.publicKey,
      publicKey: clientKeys.publicKey,
      secretKey: clientKeys.secretKey,
    });
    cleanups.push(() => client.close());
  }

  it("runs agents as the agent uid, and a hostile agent's every attempt fails", async () => {
    await startServer();
    const agent = await client.request("spawn", {
      command: "perl",
      args: ["-e", HOSTILE_AGENT, String(server.pid), ...Object.values(files)],
    });
    const ended = await waitForEnd(client, agent.id);
    const out = await stdoutOf(client, agent.id);
    expect(ended).toMatchObject({ status: "exited", exitCode: 0 });
    expect(out).toContain(`uid ${AGENT_DEFAULT_UID}\n`);
    for (const path of [...Object.values(files), `/proc/${server.pid}/environ`, `/proc/${server.pid}/mem`]) {
      expect(out).toContain(`read ${path}: Permission denied\n`);
    }
    expect(out).toContain(`signal ${server.pid}: Operation not permitted\n`);
    expect(out).not.toMatch(/OPENED|DELIVERED|CONNECTED/);
    const envLine = out.split("\n").find((line) => line.startsWith("env ")) ?? "";
    expect(envLine).not.toContain("ZEROPLANE_");
    expect(envLine).not.toContain(SECRET_ENV_VALUE);
    expect(server.child.exitCode).toBeNull();
  });

  it("runs the runner as the agent uid, and killing the server ends the runner and its agents", async () => {
    await startServer();
    const agent = await client.request("spawn", { command: "sleep", args: ["60"] });
    const runners = childrenOf(server.pid).filter((pid) => uidOf(pid) === AGENT_DEFAULT_UID);
    expect(runners).toHaveLength(1);
    const runnerPid = runners[0]!;
    expect(uidOf(agent.pid!)).toBe(AGENT_DEFAULT_UID);
    server.kill("SIGKILL");
    await server.exited;
    await waitFor("the runner and its agent to be gone", () => !alive(runnerPid) && !alive(agent.pid!));
  });
});

/** The Kubernetes shape: `zeroplane runner --listen PATH` started as the agent uid, the server connecting. */
describe("a runner listening on a socket (mode socket)", () => {
  async function startRunner(): Promise<{ child: ChildProcess; socketPath: string }> {
    const dir = mkdtempSync(join(tmpdir(), "zeroplane-runner-test-"));
    chownSync(dir, AGENT_DEFAULT_UID, AGENT_DEFAULT_GID);
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const socketPath = join(dir, "runner.sock");
    const child = spawn(
      process.execPath,
      [...runnerCommandArgs(), "--listen", socketPath, "--state-dir", join(dir, "state")],
      {
        uid: AGENT_DEFAULT_UID,
        gid: AGENT_DEFAULT_GID,
        env: { PATH: process.env.PATH },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    await waitFor("the runner to listen", () => existsSync(socketPath));
    await new Promise<void>((resolve) => {
      let text = "";
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        text += chunk;
        if (text.includes(LISTENING_LINE)) resolve();
      });
    });
    return { child, socketPath };
  }

  function connectTo(path: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once("connect", () => resolve(socket));
      socket.once("error", reject);
    });
  }

  /** The server's side, speaking the runner protocol directly. */
  function speak(socket: Socket): { messages: RunnerMessage[]; send: (message: unknown) => void } {
    const messages: RunnerMessage[] = [];
    readFrames(socket, (message) => messages.push(message as RunnerMessage));
    const writer = new FrameWriter(socket);
    return { messages, send: (message) => writer.send(message) };
  }

  it("serves the first connection only, and its agents cannot reach the socket", async () => {
    const { socketPath } = await startRunner();
    expect(readFileSync(runnerReadyFile(socketPath), "utf8")).toBe("listening\n");
    expect(runnerReadyFile(DEFAULT_PATHS.runnerSocket)).toBe(DEFAULT_PATHS.runnerReadyFile);
    const first = await connectTo(socketPath);
    cleanups.push(() => first.destroy());
    const { messages, send } = speak(first);
    await waitFor("the runner's hello", () => messages.find((m) => m.t === "hello"));
    expect(messages[0]).toMatchObject({ t: "hello", uid: AGENT_DEFAULT_UID });

    await expect(connectTo(socketPath)).rejects.toMatchObject({ code: "ENOENT" });
    // Probes see the runner up through its ready file, as the socket is gone.
    expect(readFileSync(runnerReadyFile(socketPath), "utf8")).toBe("serving\n");

    send({
      t: "launch",
      id: "hostile",
      command: "perl",
      args: ["-e", HOSTILE_AGENT, String(process.pid)],
      env: { RUNNER_SOCKETS: socketPath },
    });
    await waitFor("the hostile agent to finish", () => messages.find((m) => m.t === "close"));
    const out = Buffer.concat(
      messages.filter((m) => m.t === "out").flatMap((m) => (m as Extract<RunnerMessage, { t: "out" }>).parts),
    ).toString("utf8");
    expect(out).toContain(`connect ${socketPath}: No such file or directory\n`);
    expect(out).toContain(`signal ${process.pid}: Operation not permitted\n`);
    expect(out).not.toMatch(/OPENED|DELIVERED|CONNECTED/);
  });

  it("pauses agents' output while the server does not read, so its memory stays bounded", async () => {
    const { child, socketPath } = await startRunner();
    const socket = await connectTo(socketPath);
    const { messages, send } = speak(socket);
    await waitFor("the runner's hello", () => messages.find((m) => m.t === "hello"));
    const baseline = rssBytes(child.pid!);
    // An agent that writes as fast as it can, while the server reads nothing.
    socket.pause();
    send({ t: "launch", id: "flood", command: "cat", args: ["/dev/zero"], env: {} });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const grown = rssBytes(child.pid!) - baseline;
    expect(grown).toBeLessThan(64 * 1024 * 1024);
    // Reading again, output flows again.
    const outputBytes = () =>
      messages
        .filter((m): m is Extract<RunnerMessage, { t: "out" }> => m.t === "out")
        .reduce((sum, m) => sum + m.parts.reduce((bytes, part) => bytes + part.length, 0), 0);
    const before = outputBytes();
    socket.resume();
    await waitFor("more output", () => outputBytes() > before + 16 * 1024 * 1024);
    // Reads of one turn go out as one message (coalesced, up to 1 MiB), not one per 64 KiB pipe read.
    const sizes = messages
      .filter((m): m is Extract<RunnerMessage, { t: "out" }> => m.t === "out")
      .map((m) => m.parts.reduce((bytes, part) => bytes + part.length, 0));
    expect(Math.max(...sizes)).toBeGreaterThan(64 * 1024);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(COALESCE_BYTES);
    socket.destroy();
  });

  it("exits when the server's connection drops, killing its agents' process groups", async () => {
    const { child, socketPath } = await startRunner();
    const socket = await connectTo(socketPath);
    const { messages, send } = speak(socket);
    send({ t: "launch", id: "sleeper", command: "sh", args: ["-c", "sleep 60 & sleep 60"], env: {} });
    const spawned = await waitFor("the agent to start", () =>
      messages.find((m): m is Extract<RunnerMessage, { t: "spawned" }> => m.t === "spawned"),
    );
    await waitFor("the agent's child", () => childrenOf(spawned.pid).length > 0);
    const grandchild = childrenOf(spawned.pid)[0]!;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    socket.destroy();
    await exited;
    expect(existsSync(runnerReadyFile(socketPath))).toBe(false);
    await waitFor("the agent and its child to be gone", () => !alive(spawned.pid) && !alive(grandchild));
  });
});
