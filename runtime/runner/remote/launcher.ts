/**
 * The server side of the runner protocol: a ProcessLauncher whose processes live in a separate
 * runner process, reached over one Unix socket connection. If that connection drops, the runner
 * has killed every agent (it exits with the connection); they are reported as killed by SIGKILL,
 * and later spawns fail with the reason.
 */
import type { Socket } from "node:net";
import { ProtocolError } from "../../protocol/errors.js";
import type { LaunchEvents, LaunchSpec, LaunchedProcess, ProcessLauncher } from "../launcher.js";
import type { ReapReport } from "../records.js";
import { FrameWriter, WRITE_CHUNK_BYTES, readFrames } from "./frames.js";
import { RUNNER_PROTOCOL_VERSION, type RunnerMessage, type ServerMessage } from "./messages.js";

type Hello = Extract<RunnerMessage, { t: "hello" }>;

export class RemoteLauncher implements ProcessLauncher {
  private readonly processes = new Map<string, RemoteProcess>();
  private readonly writer: FrameWriter;
  private readonly flushes: Array<() => void> = [];
  private lost: string | null = null;
  private closing = false;
  /** close() found agents running: the connection stays until this process exits. */
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly hello: Hello,
    /** Called once if the runner goes away while this launcher is open. */
    private readonly onLost: (reason: string) => void,
  ) {
    this.writer = new FrameWriter(socket);
  }

  /** Waits for the runner's hello on a connected `socket`, then serves it. */
  static async attach(
    socket: Socket,
    onLost: (reason: string) => void,
    timeoutMs: number,
  ): Promise<RemoteLauncher> {
    let launcher: RemoteLauncher | null = null;
    const hello = await new Promise<Hello>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Dropping the connection also ends that runner.
        socket.destroy();
        reject(new Error(`the runner sent no hello within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("close", () => {
        clearTimeout(timer);
        reject(
          new Error(
            "the runner closed the connection before its hello (it serves one connection per lifetime: is another server connected?)",
          ),
        );
      });
      readFrames(socket, (raw) => {
        const message = raw as RunnerMessage;
        if (launcher) return launcher.onMessage(message);
        clearTimeout(timer);
        if (message.t !== "hello" || message.v !== RUNNER_PROTOCOL_VERSION) {
          socket.destroy();
          reject(
            new Error(
              `the runner spoke ${JSON.stringify(message.t)} protocol v${(message as Hello).v}, expected a v${RUNNER_PROTOCOL_VERSION} hello; run the same zeroplane version in both`,
            ),
          );
          return;
        }
        resolve(message);
      });
    });
    launcher = new RemoteLauncher(socket, hello, onLost);
    socket.removeAllListeners("close");
    socket.on("error", () => {
      // The close that follows reports it.
    });
    socket.on("close", () => launcher!.onClose());
    return launcher;
  }

  get instanceId(): string {
    return this.hello.instanceId;
  }

  get watchdogPid(): number | null {
    return this.hello.watchdogPid;
  }

  get reapedAtStartup(): ReapReport {
    return this.hello.reaped;
  }

  /** The runner process's pid and uid (diagnostics, tests). */
  get runner(): { readonly pid: number; readonly uid: number } {
    return { pid: this.hello.pid, uid: this.hello.uid };
  }

  launch(spec: LaunchSpec, events: LaunchEvents): LaunchedProcess {
    const launched = new RemoteProcess(spec.agentId, events, this);
    if (this.lost) {
      queueMicrotask(() => events.onError(`cannot start ${JSON.stringify(spec.command)}: ${this.lost}`));
      return launched;
    }
    this.processes.set(spec.agentId, launched);
    this.send({
      t: "launch",
      id: spec.agentId,
      command: spec.command,
      args: spec.args,
      ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
      env: spec.env,
      ...(spec.limits ? { limits: spec.limits } : {}),
    });
    return launched;
  }

  flush(): Promise<void> {
    if (this.lost) return Promise.resolve();
    return new Promise((resolve) => {
      this.flushes.push(resolve);
      this.send({ t: "flush" });
    });
  }

  /**
   * With no agent left, closes the connection (the runner exits). With agents still running, leaves
   * them running and only lets this process exit: when it does, the connection drops and the runner
   * kills them, as the watchdog does in inline mode.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.socket.destroyed) return;
    if (this.processes.size > 0) {
      this.closing = false;
      this.closed = true;
      this.unref();
      return;
    }
    const closed = new Promise<void>((resolve) => this.socket.once("close", () => resolve()));
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), 2_000);
    timer.unref();
    await closed;
    clearTimeout(timer);
  }

  /** @internal */
  send(message: ServerMessage): void {
    this.writer.send(message);
  }

  /** @internal */
  forget(id: string): void {
    this.processes.delete(id);
  }

  /** Lets this process exit while the connection is open (the runner then ends with it). */
  unref(): void {
    this.socket.unref();
  }

  private onMessage(message: RunnerMessage): void {
    if (message.t === "flushed") {
      this.flushes.shift()?.();
      return;
    }
    if (message.t === "hello") return;
    const launched = this.processes.get(message.id);
    if (launched) launched.receive(message);
  }

  private onClose(): void {
    this.lost = this.closing
      ? "the runner connection is closed"
      : "the runner process is gone (its connection dropped); its agents were killed with it";
    for (const resolve of this.flushes.splice(0)) resolve();
    for (const launched of [...this.processes.values()]) launched.runnerLost();
    this.processes.clear();
    if (!this.closing && !this.closed) this.onLost(this.lost);
  }
}

/**
 * Output bytes to keep. A whole socket read is kept as it is; a piece of one is copied, so what the
 * output buffer charges (the bytes it keeps) is what they pin.
 */
function ownBytes(part: Buffer): Buffer {
  return part.byteLength === part.buffer.byteLength ? part : Buffer.from(part);
}

class RemoteProcess implements LaunchedProcess {
  private pending = 0;
  private spawned = false;
  private exited = false;
  private done = false;

  constructor(
    private readonly id: string,
    private readonly events: LaunchEvents,
    private readonly launcher: RemoteLauncher,
  ) {}

  receive(message: Exclude<RunnerMessage, { t: "hello" } | { t: "flushed" }>): void {
    switch (message.t) {
      case "spawned":
        this.spawned = true;
        return this.events.onSpawn(message.pid);
      case "error":
        this.done = true;
        this.launcher.forget(this.id);
        return this.events.onError(message.message);
      case "out": {
        const stream = message.s === 0 ? "stdout" : "stderr";
        for (const part of message.parts) this.events.onOutput(stream, ownBytes(part));
        return;
      }
      case "exit":
        this.exited = true;
        return this.events.onExit(message.code, message.signal as NodeJS.Signals | null);
      case "close":
        this.done = true;
        this.launcher.forget(this.id);
        return this.events.onClose();
      case "stdinClosed":
        return this.events.onStdinClosed();
      case "written":
        this.pending = Math.max(0, this.pending - message.bytes);
        return;
    }
  }

  /** The runner died: the agent died with it. */
  runnerLost(): void {
    if (this.done) return;
    this.done = true;
    if (!this.spawned) return this.events.onError("the runner process went away before the agent started");
    if (!this.exited) this.events.onExit(null, "SIGKILL");
    this.events.onClose();
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.done) this.launcher.send({ t: "signal", id: this.id, signal });
  }

  write(data: Buffer): void {
    if (this.done)
      throw new ProtocolError("INVALID_STATE", `agent ${this.id}'s runner is gone; cannot write to it`);
    for (let at = 0; at < data.length; at += WRITE_CHUNK_BYTES) {
      const piece = data.subarray(at, at + WRITE_CHUNK_BYTES);
      this.pending += piece.length;
      this.launcher.send({ t: "write", id: this.id, data: piece });
    }
  }

  end(): void {
    if (!this.done) this.launcher.send({ t: "end", id: this.id });
  }

  get stdinBacklog(): number {
    return this.pending;
  }

  closeOutput(): void {
    if (this.done) return;
    this.done = true;
    this.launcher.send({ t: "closeOutput", id: this.id });
    this.launcher.forget(this.id);
  }

  release(): void {
    // Nothing to free here; the runner frees its side on close.
  }

  unref(): void {
    this.launcher.unref();
  }
}
