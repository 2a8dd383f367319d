/**
 * The runner side of the runner protocol: serves the server's one connection with an inline
 * launcher. Output is forwarded as it comes; when the socket's buffer is full, every agent's output
 * pipes are paused until it drains, so a slow server makes agents block on write instead of growing
 * this process's memory.
 */
import type { Socket } from "node:net";
import { isSignalName } from "../process-groups.js";
import type { InlineLauncher } from "../inline-launcher.js";
import type { LaunchedProcess } from "../launcher.js";
import { COALESCE_BYTES, FrameWriter, readFrames } from "./frames.js";
import { RUNNER_PROTOCOL_VERSION, type RunnerMessage, type ServerMessage } from "./messages.js";

type InlineLaunched = LaunchedProcess & {
  write(data: Buffer, done?: (error?: Error | null) => void): void;
};

export class RunnerHost {
  private readonly processes = new Map<string, InlineLaunched>();
  private readonly writer: FrameWriter;
  private heldOutput: { id: string; s: 0 | 1; parts: Buffer[]; bytes: number } | null = null;
  private flushScheduled = false;

  constructor(
    private readonly socket: Socket,
    private readonly launcher: InlineLauncher,
  ) {
    this.writer = new FrameWriter(socket);
    socket.on("drain", () => launcher.pauseOutput(false));
    readFrames(socket, (message) => this.onMessage(message as ServerMessage));
    this.send({
      t: "hello",
      v: RUNNER_PROTOCOL_VERSION,
      pid: process.pid,
      uid: process.getuid?.() ?? -1,
      instanceId: launcher.instanceId,
      watchdogPid: launcher.watchdogPid,
      reaped: launcher.reapedAtStartup,
    });
  }

  private send(message: RunnerMessage): void {
    this.flushOutput();
    if (!this.writer.send(message)) this.launcher.pauseOutput(true);
  }

  /**
   * Output chunks of one stream that arrive in the same turn of the event loop (a busy agent fills
   * its pipe faster than one read) go out as one message, written without copying: the server then
   * handles one frame instead of many. Flushed when the turn ends, at COALESCE_BYTES, and before any
   * other message, so order is kept and nothing waits on a timer.
   */
  private holdOutput(id: string, stream: 0 | 1, data: Buffer): void {
    const held = this.heldOutput;
    if (held && (held.id !== id || held.s !== stream || held.bytes + data.length > COALESCE_BYTES)) {
      this.flushOutput();
    }
    if (this.heldOutput) {
      this.heldOutput.parts.push(data);
      this.heldOutput.bytes += data.length;
    } else {
      this.heldOutput = { id, s: stream, parts: [data], bytes: data.length };
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          this.flushOutput();
        });
      }
    }
  }

  private flushOutput(): void {
    const held = this.heldOutput;
    if (!held) return;
    this.heldOutput = null;
    if (!this.writer.sendRaw({ t: "out", id: held.id, s: held.s }, held.parts))
      this.launcher.pauseOutput(true);
  }

  private onMessage(message: ServerMessage): void {
    switch (message.t) {
      case "launch":
        return this.launch(message);
      case "signal":
        if (isSignalName(message.signal)) this.processes.get(message.id)?.signal(message.signal);
        return;
      case "write": {
        const data = Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength);
        const bytes = data.length;
        const launched = this.processes.get(message.id);
        if (!launched) return this.send({ t: "written", id: message.id, bytes });
        launched.write(data, () => this.send({ t: "written", id: message.id, bytes }));
        return;
      }
      case "end":
        return this.processes.get(message.id)?.end();
      case "closeOutput":
        return this.processes.get(message.id)?.closeOutput();
      case "flush":
        void this.launcher.flush().then(() => this.send({ t: "flushed" }));
        return;
    }
  }

  private launch(message: Extract<ServerMessage, { t: "launch" }>): void {
    const { id } = message;
    const launched = this.launcher.launch(
      {
        agentId: id,
        command: message.command,
        args: message.args,
        cwd: message.cwd,
        env: message.env,
        limits: message.limits,
      },
      {
        onSpawn: (pid) => this.send({ t: "spawned", id, pid }),
        onError: (text) => {
          this.forget(id);
          this.send({ t: "error", id, message: text });
        },
        onOutput: (stream, data) => this.holdOutput(id, stream === "stdout" ? 0 : 1, data),
        onExit: (code, signal) => this.send({ t: "exit", id, code, signal }),
        onClose: () => {
          this.forget(id);
          this.send({ t: "close", id });
        },
        onStdinClosed: () => this.send({ t: "stdinClosed", id }),
      },
    ) as InlineLaunched;
    this.processes.set(id, launched);
  }

  private forget(id: string): void {
    this.processes.get(id)?.release();
    this.processes.delete(id);
  }
}
