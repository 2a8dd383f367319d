import { decode, encode } from "@msgpack/msgpack";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Context, Dealer, Router } from "zeromq";
import { Allowlist } from "../../../runtime/security/allowlist.js";
import { generateKeypair, keyFingerprint, type CurveKeypair } from "../../../runtime/security/keys.js";
import { ZAP_DOMAIN, ZapHandler, type ZapRejection } from "../../../runtime/security/zap.js";
import { waitFor } from "../../support/wait.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A CURVE ROUTER echo server guarded by a ZapHandler, in a context of its own. */
async function startGuardedEcho(allowed: string[]) {
  const dir = mkdtempSync(join(tmpdir(), "zeroplane-zap-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "allowlist.txt");
  writeFileSync(file, allowed.join("\n"));
  const allowlist = new Allowlist(file);
  cleanups.push(() => allowlist.close());
  const rejections: ZapRejection[] = [];
  const context = new Context();
  const zap = new ZapHandler(context, allowlist, (rejection) => rejections.push(rejection));
  await zap.start();
  cleanups.push(() => zap.close());
  const server = generateKeypair();
  const router = new Router({
    context,
    linger: 0,
    curveServer: true,
    curveSecretKey: server.secretKey,
    zapDomain: ZAP_DOMAIN,
    zapEnforceDomain: true,
  });
  cleanups.push(() => router.close());
  await router.bind("tcp://127.0.0.1:*");
  void (async () => {
    try {
      for await (const [identity, body] of router) await router.send([identity!, body!]);
    } catch {
      // closed
    }
  })();
  return { endpoint: router.lastEndpoint!, server, rejections, file };
}

/**
 * A CURVE DEALER. `receiveTimeoutMs` only bounds how long a test waits for an echo: generous where
 * one is expected, short where none will ever come.
 */
function client(
  endpoint: string,
  server: CurveKeypair,
  keys: CurveKeypair,
  receiveTimeoutMs = 20_000,
): Dealer {
  const dealer = new Dealer({
    linger: 0,
    curveServerKey: server.publicKey,
    curvePublicKey: keys.publicKey,
    curveSecretKey: keys.secretKey,
  });
  dealer.receiveTimeout = receiveTimeoutMs;
  dealer.connect(endpoint);
  cleanups.push(() => dealer.close());
  return dealer;
}

async function echo(dealer: Dealer): Promise<unknown> {
  await dealer.send(encode({ ping: 1 }));
  const [reply] = await dealer.receive();
  return decode(reply!);
}

describe("ZapHandler", () => {
  it("admits a client whose public key is in the allowlist", async () => {
    const alice = generateKeypair();
    const { endpoint, server, rejections } = await startGuardedEcho([alice.publicKey]);
    expect(await echo(client(endpoint, server, alice))).toEqual({ ping: 1 });
    expect(rejections).toEqual([]);
  });

  it("refuses a client whose key is not listed, reporting only a fingerprint", async () => {
    const alice = generateKeypair();
    const mallory = generateKeypair();
    const { endpoint, server, rejections } = await startGuardedEcho([alice.publicKey]);
    const refused = echo(client(endpoint, server, mallory, 1_000));
    refused.catch(() => undefined);
    // However slow the machine, the handshake reaches ZAP eventually: wait for it, not a fixed time.
    await waitFor("ZAP to refuse the client", () => rejections.length > 0, 20_000);
    await expect(refused).rejects.toThrow(/timed out|Socket/i);
    expect(rejections[0]!.reason).toBe("not-allowlisted");
    expect(rejections[0]!.fingerprint).toBe(keyFingerprint(mallory.publicKey));
    expect(JSON.stringify(rejections)).not.toContain(mallory.publicKey);
  });
});
