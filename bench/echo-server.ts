/**
 * The request baseline: a bare zeromq.js ROUTER with CURVE that decodes each request and encodes a
 * health result, nothing more. Run as its own process by bench/servers.ts (`startEchoServer`);
 * prints `listening <endpoint>`.
 */
import { Decoder, Encoder } from "@msgpack/msgpack";
import { Router } from "zeromq";
import { PROTOCOL_VERSION } from "../runtime/protocol/index.js";

const router = new Router({
  curveServer: true,
  curveSecretKey: process.env.BENCH_SERVER_SECRET_KEY!,
  linger: 0,
});
await router.bind("tcp://127.0.0.1:*");
process.stdout.write(`listening ${router.lastEndpoint}\n`);
process.on("SIGTERM", () => router.close());
const decoder = new Decoder();
const encoder = new Encoder();
const startedAt = Date.now();
for await (const [identity, frame] of router) {
  const request = decoder.decode(frame!) as { id: string };
  const result = {
    healthy: true,
    ready: true,
    draining: false,
    serverId: "echo",
    version: "0.0.0",
    protocolVersion: PROTOCOL_VERSION,
    uptimeMs: Date.now() - startedAt,
    activeAgents: 0,
    maxAgents: 100,
    load: 0,
  };
  await router.send([identity!, encoder.encode({ v: PROTOCOL_VERSION, id: request.id, ok: true, result })]);
}
