/**
 * NATS command intake answers an unexpected handler failure as the ZeroMQ path does: INTERNAL with a
 * fixed message, the details only in the server's log (real nats-server).
 */
import { decode, encode } from "@msgpack/msgpack";
import type { NatsConnection } from "nats";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandIntake } from "../../../runtime/events/commands.js";
import { createEventsMetrics } from "../../../runtime/events/metrics.js";
import type { RequestHandler } from "../../../runtime/protocol/index.js";
import { startNats, type NatsCluster } from "../../support/nats.js";
import { natsClient } from "./helpers.js";

const SECRET_DETAIL = "ENOENT: /var/lib/zeroplane/secret-state.json";

let nats: NatsCluster;
let connection: NatsConnection;
let intake: CommandIntake;
const logged: string[] = [];

beforeAll(async () => {
  nats = await startNats({ jetstream: false });
  connection = await natsClient(nats.urls);
  const failing: RequestHandler = async () => {
    throw new Error(SECRET_DETAIL);
  };
  intake = new CommandIntake({
    connection,
    subjectPrefix: "test.commands",
    queueGroup: "test",
    serverId: "srv-x",
    handler: failing,
    logger: pino({ level: "error" }, { write: (line: string) => void logged.push(line) }),
    metrics: createEventsMetrics(new Registry(), {
      spoolEvents: () => 0,
      spoolBytes: () => 0,
      connected: () => true,
      spoolUnavailable: () => false,
      spoolDiskFreeBytes: () => null,
    }),
    maxMessageBytes: 1024 * 1024,
  });
  await connection.flush();
});

afterAll(async () => {
  await intake?.close(1_000);
  await connection?.close();
  await nats?.stop();
});

describe("NATS command intake", () => {
  it("answers an unexpected failure with INTERNAL and no detail, and logs the detail", async () => {
    const reply = decode(
      (
        await connection.request("test.commands.health", encode({ v: 1, id: "i1", params: {} }), {
          timeout: 5_000,
        })
      ).data,
    );
    expect(reply).toEqual({
      v: 1,
      id: "i1",
      ok: false,
      error: { code: "INTERNAL", message: "internal server error", retryable: true },
    });
    expect(logged.join("\n")).toContain(SECRET_DETAIL);
  });

  it("answers JSON requests with the same hidden INTERNAL error, in JSON", async () => {
    const body = new TextEncoder().encode('{"v":1,"id":"j1","params":{}}');
    const reply = (await connection.request("test.commands.health", body, { timeout: 5_000 })).json();
    expect(reply).toMatchObject({
      id: "j1",
      ok: false,
      error: { code: "INTERNAL", message: "internal server error" },
    });
  });
});
