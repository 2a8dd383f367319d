/**
 * The floor of the output path's shape: the same four processes as agent output through Zeroplane,
 * with nothing of Zeroplane in them. An agent (`head -c N /dev/zero`) writes into a pipe read by a
 * bare "runner" process, which copies it into a Unix socket read by a bare "server" process, which
 * pushes each chunk over CURVE (zeromq.js PUSH) to `pullBytes` in the bench. So the figure says what
 * the process layout costs on this machine, apart from anything our code does.
 *
 *   node --import tsx bench/stream-relay.ts server      prints `listening <tcp endpoint> <socket path>`
 *   node --import tsx bench/stream-relay.ts runner <socket path> <bytes>    prints `relaying`
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Push } from "zeromq";

async function server(): Promise<void> {
  const push = new Push({
    linger: 5_000,
    curveServer: true,
    curveSecretKey: process.env.BENCH_CURVE_SECRET_KEY,
  });
  await push.bind("tcp://127.0.0.1:*");
  const socketPath = join(mkdtempSync(join(tmpdir(), "zeroplane-relay-")), "relay.sock");
  const listener = createServer((socket) => {
    listener.close();
    // One send at a time (zeromq.js allows one in flight), reading paused while it is queued.
    socket.on("data", (chunk: Buffer) => {
      socket.pause();
      push.send(chunk).then(
        () => socket.resume(),
        (error: Error) => socket.destroy(error),
      );
    });
    socket.on("end", () => {
      void push.send(Buffer.alloc(0)).then(() => push.close());
    });
  });
  listener.listen(socketPath, () => process.stdout.write(`listening ${push.lastEndpoint} ${socketPath}\n`));
}

function runner(socketPath: string, bytes: number): void {
  const socket = connect(socketPath, () => {
    const agent = spawn("head", ["-c", String(bytes), "/dev/zero"], { stdio: ["ignore", "pipe", "inherit"] });
    agent.stdout.pipe(socket);
    process.stdout.write("relaying\n");
  });
}

if (process.argv[1]?.endsWith("stream-relay.ts")) {
  const [role, socketPath, bytes] = process.argv.slice(2);
  if (role === "server") await server();
  else if (role === "runner") runner(socketPath!, Number(bytes));
  else throw new Error(`usage: stream-relay.ts server | runner <socket path> <bytes>, got ${role}`);
}
