import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { curveKeyPair } from "zeromq";
import { describe, expect, it } from "vitest";
import { CLIENT_ENV_VARS } from "../../../runtime/config/index.js";
import { curveSourcesFromEnv, resolveCurveKeys } from "../../../runtime/client/index.js";

function keyFile(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "zp-keys-")), "key");
  writeFileSync(path, `${text}\n`);
  return path;
}

describe("client CURVE keys", () => {
  const server = curveKeyPair();
  const client = curveKeyPair();

  it("turns CURVE off when no server key is given", () => {
    expect(resolveCurveKeys({})).toBeNull();
  });

  it("reads keys from files and derives the client public key from its secret key", () => {
    const keys = resolveCurveKeys({
      serverPublicKeyFile: keyFile(server.publicKey),
      clientSecretKeyFile: keyFile(client.secretKey),
    });
    expect(keys).toEqual({
      serverPublicKey: server.publicKey,
      publicKey: client.publicKey,
      secretKey: client.secretKey,
    });
  });

  it("takes keys from the environment names in CLIENT_ENV_VARS", () => {
    const sources = curveSourcesFromEnv({
      [CLIENT_ENV_VARS.serverPublicKey]: server.publicKey,
      [CLIENT_ENV_VARS.clientSecretKeyFile]: keyFile(client.secretKey),
      [CLIENT_ENV_VARS.clientPublicKey]: client.publicKey,
    });
    expect(resolveCurveKeys(sources)?.publicKey).toBe(client.publicKey);
  });

  it("uses an ephemeral client keypair when only the server key is known", () => {
    const keys = resolveCurveKeys({ serverPublicKey: server.publicKey })!;
    expect(keys.serverPublicKey).toBe(server.publicKey);
    expect(keys.publicKey).toHaveLength(40);
    expect(keys.publicKey).not.toBe(client.publicKey);
  });

  it("names a malformed key file and what it should hold", () => {
    const path = keyFile("not-a-key");
    expect(() => resolveCurveKeys({ serverPublicKeyFile: path })).toThrow(
      new RegExp(`server public key file ${path} is not a 40-character Z85 CURVE key.*keygen`),
    );
  });

  it("refuses a client public key that does not belong to the secret key", () => {
    expect(() =>
      resolveCurveKeys({
        serverPublicKey: server.publicKey,
        clientSecretKey: client.secretKey,
        clientPublicKey: server.publicKey,
      }),
    ).toThrow(/does not belong to the client secret key/);
  });

  it("refuses client keys without a server key, naming the variable to set", () => {
    expect(() => resolveCurveKeys({ clientSecretKey: client.secretKey })).toThrow(
      /ZEROPLANE_SERVER_PUBLIC_KEY_FILE/,
    );
  });

  it("names an unreadable key file", () => {
    expect(() => resolveCurveKeys({ serverPublicKeyFile: "/nonexistent/server.key" })).toThrow(
      /cannot read the server public key file \/nonexistent\/server.key/,
    );
  });
});
