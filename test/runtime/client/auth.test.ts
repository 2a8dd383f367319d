import { curveKeyPair } from "zeromq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthenticationError, ZeroplaneClient } from "../../../runtime/client/index.js";
import { ServerPool, serverSpecs, type TestServerSpec } from "./support/servers.js";

describe("client against a CURVE server with an allowlist", () => {
  const pool = new ServerPool();
  const serverKeys = curveKeyPair();
  const allowed = curveKeyPair();
  const stranger = curveKeyPair();
  let spec: TestServerSpec;
  const clients: ZeroplaneClient[] = [];

  async function connect(curve: { serverPublicKey: string; publicKey: string; secretKey: string } | null) {
    const client = await ZeroplaneClient.connect({ endpoints: spec.endpoint, curve, timeoutMs: 8_000 });
    clients.push(client);
    return client;
  }

  async function timedFailure(client: ZeroplaneClient): Promise<{ error: unknown; elapsed: number }> {
    const started = Date.now();
    const error = await client.health().then(
      () => null,
      (e: unknown) => e,
    );
    return { error, elapsed: Date.now() - started };
  }

  beforeAll(async () => {
    [spec] = (await serverSpecs(1, {
      curve: { secretKey: serverKeys.secretKey, allowlist: [allowed.publicKey] },
    })) as [TestServerSpec];
    await pool.start(spec);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await pool.disposeAll();
  });

  it("works with the right server key and an allowlisted client key", async () => {
    const client = await connect({ serverPublicKey: serverKeys.publicKey, ...allowed });
    expect((await client.health()).healthy).toBe(true);
    const agent = await client.spawn({ command: "true" });
    expect(agent.serverId).toBe(spec.id);
  });

  it("reports a wrong server key as an authentication failure within the timeout", async () => {
    const client = await connect({ serverPublicKey: curveKeyPair().publicKey, ...allowed });
    const { error, elapsed } = await timedFailure(client);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as Error).message).toMatch(
      /CURVE authentication failed with tcp:\/\/127\.0\.0\.1:\d+ .*check the server public key.*allowlisted/,
    );
    expect(elapsed).toBeLessThan(8_000);
  });

  it("reports a client key missing from the allowlist as an authentication failure", async () => {
    const client = await connect({ serverPublicKey: serverKeys.publicKey, ...stranger });
    const { error, elapsed } = await timedFailure(client);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as Error).message).toMatch(/CURVE authentication failed.*allowlisted/);
    expect(elapsed).toBeLessThan(8_000);
  });

  it("reports a plaintext client as an authentication failure that mentions CURVE", async () => {
    const client = await connect(null);
    const { error } = await timedFailure(client);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as Error).message).toMatch(/not using CURVE, but the server may require it/);
  });
});
