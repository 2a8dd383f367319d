/**
 * The server's NATS wiring, against a real nats-server: lifecycle events reach JetStream, readiness
 * follows a required NATS, and a full event spool refuses spawns.
 */
import { connect } from "nats";
import { afterEach, describe, expect, it } from "vitest";
import { HTTP_PATHS } from "../../../runtime/config/index.js";
import { startNats, type NatsCluster } from "../../support/nats.js";
import { startTestServer, type TestServer } from "./harness.js";
import { WireError } from "./wire-client.js";
import { waitFor } from "../../support/wait.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function natsAndServer(nats: NatsCluster, extra: Record<string, unknown> = {}): Promise<TestServer> {
  const t = await startTestServer({
    nats: { enabled: true, required: true, urls: nats.urls, reconnectWaitMs: 250, ...extra },
  });
  cleanups.push(() => t.stop());
  return t;
}

async function readyz(t: TestServer): Promise<{ status: number; body: string }> {
  const response = await fetch(`${t.server.endpoints.http}${HTTP_PATHS.readyz}`);
  return { status: response.status, body: await response.text() };
}

describe("NATS wiring", () => {
  it("publishes every agent's lifecycle events to JetStream", async () => {
    const nats = await startNats();
    cleanups.push(() => nats.stop());
    const t = await natsAndServer(nats);
    await waitFor("ready with NATS", async () => (await readyz(t)).status === 200, 20_000);
    const client = t.client();
    const agent = await client.request("spawn", { command: "true" });
    await waitFor(
      "exit",
      async () => (await client.request("get", { agentId: agent.id })).status === "exited",
      10_000,
    );
    const connection = await connect({ servers: nats.urls });
    cleanups.push(() => connection.close());
    const manager = await connection.jetstreamManager();
    // spawned, started and exited at least.
    await waitFor(
      "three events",
      async () => (await manager.streams.info(t.config.nats.stream)).state.messages >= 3,
      15_000,
    );
  });

  it("is not ready while a required NATS is unreachable, and becomes ready when it is back", async () => {
    const nats = await startNats();
    cleanups.push(() => nats.stop());
    await nats.nodes[0]!.stop();
    const t = await natsAndServer(nats);
    const down = await readyz(t);
    expect(down.status).toBe(503);
    expect(down.body).toContain("NATS");
    expect((await t.client().request("health", {})).ready).toBe(false);
    await nats.nodes[0]!.restart();
    await waitFor("ready after NATS returns", async () => (await readyz(t)).status === 200, 30_000);
  });

  it("refuses spawns with a retryable UNAVAILABLE once the event spool is full", async () => {
    const nats = await startNats();
    cleanups.push(() => nats.stop());
    await nats.nodes[0]!.stop();
    const t = await natsAndServer(nats, {
      required: false,
      spoolMaxBytes: 8 * 1024,
      spoolFullPolicy: "refuse-spawns",
    });
    const client = t.client();
    const refusal = await waitFor(
      "a refused spawn",
      async () => {
        try {
          await client.request("spawn", { command: "true", labels: { fill: "x".repeat(200) } });
          return null;
        } catch (error) {
          if (error instanceof WireError) return error;
          throw error;
        }
      },
      30_000,
    );
    expect(refusal.body).toMatchObject({ code: "UNAVAILABLE", retryable: true });
  });
});
