import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as zmq from "zeromq";
import { afterAll, describe, expect, it } from "vitest";
import { publicKeyFromSecret } from "../../runtime/security/keys.js";
import { curveKeyProvider } from "../../stacks/aws/curve-key.js";

const scratch = mkdtempSync(join(tmpdir(), "zeroplane-curve-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

describe("the CURVE key provider", () => {
  it("creates a keypair whose public half follows from the secret half", async () => {
    const { id, outs } = await curveKeyProvider.create();
    expect(outs.publicKey).toMatch(Z85_KEY);
    expect(outs.secretKey).toMatch(Z85_KEY);
    expect(publicKeyFromSecret(outs.secretKey)).toBe(outs.publicKey);
    expect(id).toBe(outs.publicKey);
  });

  it("creates a different keypair each time it is asked to create one", async () => {
    const first = await curveKeyProvider.create();
    const second = await curveKeyProvider.create();
    expect(first.outs.secretKey).not.toBe(second.outs.secretKey);
  });

  it("never reports a change, so later `pulumi up` runs keep the same key", async () => {
    expect(await curveKeyProvider.diff()).toEqual({ changes: false });
  });

  it("works when serialized the way Pulumi stores it and run in a separate Node process", async () => {
    const serialized = await pulumi.runtime.serializeFunction(() => curveKeyProvider);
    const file = join(scratch, "provider.cjs");
    writeFileSync(file, serialized.text);
    const script = `require(${JSON.stringify(file)}).handler().create().then((r) => process.stdout.write(JSON.stringify(r.outs)))`;
    const outs = JSON.parse(
      execFileSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 30_000 }),
    );
    expect(publicKeyFromSecret(outs.secretKey)).toBe(outs.publicKey);
  });

  it("produces keys a real ZeroMQ CURVE server and client complete a handshake with", async () => {
    const { outs } = await curveKeyProvider.create();
    const client = zmq.curveKeyPair();
    const router = new zmq.Router({
      curveServer: true,
      curveSecretKey: outs.secretKey,
      receiveTimeout: 20_000,
    });
    const dealer = new zmq.Dealer({
      curveServerKey: outs.publicKey,
      curvePublicKey: client.publicKey,
      curveSecretKey: client.secretKey,
      linger: 0,
    });
    try {
      await router.bind("tcp://127.0.0.1:*");
      dealer.connect(router.lastEndpoint!);
      await dealer.send("hello over CURVE");
      const [, message] = await router.receive();
      expect(message!.toString()).toBe("hello over CURVE");
    } finally {
      dealer.close();
      router.linger = 0;
      router.close();
    }
  });
});
