/**
 * The floor for moving agent output: a process that pushes `bytes` in frames of `frameBytes` over a
 * ZeroMQ PUSH socket (CURVE when BENCH_CURVE_SECRET_KEY is set), then one empty frame, to a PULL
 * socket in another process (`pullBytes` below, in the bench). Prints `listening <endpoint>`.
 *
 *   node --import tsx bench/stream-peer.ts <bytes> <frameBytes>
 */
import { Pull, Push } from "zeromq";
import type { Keys } from "./load.js";

/** Receives until the empty frame; bytes per second from the first frame to the last. */
export async function pullBytes(
  endpoint: string,
  keys: Keys | null,
): Promise<{ bytes: number; rate: number }> {
  const pull = new Pull({
    linger: 0,
    receiveTimeout: 60_000,
    ...(keys
      ? {
          curveServerKey: keys.server.publicKey,
          curvePublicKey: keys.client.publicKey,
          curveSecretKey: keys.client.secretKey,
        }
      : {}),
  });
  pull.connect(endpoint);
  try {
    let bytes = 0;
    let started = 0;
    for (;;) {
      const [frame] = await pull.receive();
      if (started === 0) started = performance.now();
      if (frame!.length === 0) break;
      bytes += frame!.length;
    }
    return { bytes, rate: bytes / ((performance.now() - started) / 1000) };
  } finally {
    pull.close();
  }
}

async function push(bytes: number, frameBytes: number): Promise<void> {
  const secretKey = process.env.BENCH_CURVE_SECRET_KEY;
  const socket = new Push({
    linger: 5_000,
    ...(secretKey ? { curveServer: true, curveSecretKey: secretKey } : {}),
  });
  await socket.bind("tcp://127.0.0.1:*");
  process.stdout.write(`listening ${socket.lastEndpoint}\n`);
  // A fresh buffer per frame, as agent output arrives in fresh chunks.
  for (let sent = 0; sent < bytes; sent += frameBytes) {
    await socket.send(Buffer.alloc(Math.min(frameBytes, bytes - sent), 0x61));
  }
  await socket.send(Buffer.alloc(0));
  socket.close();
}

if (process.argv[1]?.endsWith("stream-peer.ts")) {
  await push(Number(process.argv[2]), Number(process.argv[3]));
}
