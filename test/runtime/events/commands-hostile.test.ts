/**
 * The NATS command path under the same hostile frames as the ZeroMQ path (real nats-server, real
 * server process): every frame is answered with the documented error from the shared codec, frames
 * at and around the size limit are answered as on ZeroMQ, JSON bodies get the same bounds, no
 * message quotes client data at length, and the server stays alive, fast and small.
 */
import { decode } from "@msgpack/msgpack";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultConfig } from "../../../runtime/config/index.js";
import { ERROR_CODES, WIRE_LIMITS } from "../../../runtime/protocol/index.js";
import { startNats, type NatsCluster } from "../../support/nats.js";
import { startServerProcess, testServerConfig, type ServerProcess } from "../../support/server-process.js";
import {
  MAX_SERVER_RSS_BYTES,
  nestedFrame,
  outcome,
  paddedHealth,
  runHostileCases,
} from "../server/fuzz-frames.js";
import { waitFor } from "../../support/wait.js";
import { WireClient, type Reply } from "../server/wire-client.js";

const MiB = 1024 * 1024;
const LIMIT = defaultConfig().server.maxMessageBytes;
const SUBJECTS = defaultConfig().nats.commandSubjectPrefix;

let nats: NatsCluster;
let server: ServerProcess;
let connection: NatsConnection;

beforeAll(async () => {
  // Room for frames past the server's limit: NATS itself refuses payloads over max_payload.
  nats = await startNats({ extraConfig: "max_payload: 12MB" });
  server = await startServerProcess({
    config: testServerConfig({
      nats: { enabled: true, required: true, commands: true, urls: nats.urls, reconnectWaitMs: 250 },
    }),
  });
  connection = await connect({ servers: nats.urls });
  await waitFor(
    "command intake",
    async () => (await request("health", new TextEncoder().encode('{"v":1,"id":"up","params":{}}')))?.ok,
    20_000,
  );
});

afterAll(async () => {
  await connection?.close();
  await server?.dispose();
  await nats?.stop();
});

/** One command over NATS; null when nobody answers (intake not subscribed yet). */
async function request(method: string, body: Uint8Array, timeout = 10_000): Promise<Reply | null> {
  try {
    const reply = await connection.request(`${SUBJECTS}.${method}`, body, { timeout });
    return (
      body[0] === 0x7b ? JSON.parse(new TextDecoder().decode(reply.data)) : decode(reply.data)
    ) as Reply;
  } catch (error) {
    if (/503|no responders|TIMEOUT/i.test(String((error as { code?: string }).code ?? error))) return null;
    throw error;
  }
}

/** The fastest of up to five health round trips is under 100 ms (one slow trip on a loaded machine is not a wedge). */
async function expectHealthyWithin100ms(): Promise<void> {
  let fastest = Infinity;
  for (let attempt = 0; attempt < 5 && fastest >= 100; attempt++) {
    const started = performance.now();
    const reply = await request("health", new TextEncoder().encode('{"v":1,"id":"h","params":{}}'));
    fastest = Math.min(fastest, performance.now() - started);
    expect(outcome(reply)).toBe("ok");
  }
  expect(fastest).toBeLessThan(100);
  expect(server.child.exitCode).toBeNull();
  expect(server.stderr()).not.toMatch(/RangeError|Maximum call stack|out of memory/i);
}

describe("NATS command intake under hostile input", () => {
  it("answers every hostile frame with the same documented error as the ZeroMQ path", async () => {
    const { mismatches, cases, peakRss } = await runHostileCases(
      server,
      (hostile) => request(hostile.subjectMethod, hostile.frame),
      (hostile) => hostile.nats,
    );
    expect(mismatches).toEqual([]);
    expect(cases).toBeGreaterThan(1_500);
    await expectHealthyWithin100ms();
    expect(peakRss).toBeLessThan(MAX_SERVER_RSS_BYTES);
  });

  it("applies the size limit before decoding, as on ZeroMQ", async () => {
    for (const size of [LIMIT - 1, LIMIT]) {
      expect({ size, outcome: outcome(await request("health", paddedHealth(`at${size}`, size))) }).toEqual({
        size,
        outcome: "ok",
      });
    }
    const over = await request("health", paddedHealth("over", LIMIT + 1));
    expect(over).toMatchObject({ id: "over", ok: false, error: { code: ERROR_CODES.MESSAGE_TOO_LARGE } });
    const deep = await request("health", nestedFrame("deep", LIMIT));
    expect(deep).toMatchObject({ id: "deep", error: { code: ERROR_CODES.BAD_REQUEST } });
    expect(deep!.error!.message).toContain("WIRE_LIMITS.maxDepth");
    // Past NATS's own max_payload the client cannot even send it.
    await expect(connection.request(`${SUBJECTS}.health`, new Uint8Array(13 * MiB))).rejects.toThrow(
      /MAX_PAYLOAD/,
    );
    await expectHealthyWithin100ms();
    // The ZeroMQ side is as responsive.
    const zmq = new WireClient(server.endpoints.router);
    try {
      expect((await zmq.request("health", {})).healthy).toBe(true);
    } finally {
      await zmq.close();
    }
  });

  it("bounds JSON bodies the same way and never quotes them back", async () => {
    const json = (text: string) => request("health", new TextEncoder().encode(text));
    const depth = WIRE_LIMITS.maxDepth;
    const deep = await json(`{"v":1,"id":"j1","params":{"a":${"[".repeat(5_000)}${"]".repeat(5_000)}}}`);
    expect(deep).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    expect(deep!.error!.message).toContain(`deeper than ${depth} levels`);
    const wide = await json(
      `{"v":1,"id":"j2","params":{"a":[${Array.from({ length: WIRE_LIMITS.maxCollectionLength + 1 }, () => 0).join(",")}]}}`,
    );
    expect(wide!.error!.message).toContain("WIRE_LIMITS.maxCollectionLength");
    const secret = "s".repeat(5_000);
    const broken = await json(`{"v":1,"id":"j3", ${secret}}`);
    expect(broken).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    expect(broken!.error!.message).not.toContain("sss");
    const version = await json(`{"v":"${secret}","id":"j4","params":{}}`);
    expect(version).toMatchObject({ id: "j4", error: { code: "UNSUPPORTED_VERSION" } });
    expect(version!.error!.message.length).toBeLessThan(200);
    const noId = await json('{"v":1,"params":{}}');
    expect(noId).toMatchObject({ id: "", error: { code: "BAD_REQUEST" } });
    expect(noId!.error!.message).toContain("request id must be a string of 1-256 characters");
    await expectHealthyWithin100ms();
  });
});
