/**
 * The server's CURVE keypair as a Pulumi resource: generated once, in the dynamic provider's
 * `create`, so it lives in the stack state (the secret half encrypted) and stays the same on every
 * later `pulumi up`. Rotate it deliberately with `pulumi up --replace <urn>`.
 */
import * as pulumi from "@pulumi/pulumi";

/** A CURVE keypair, both halves Z85 text (40 characters). */
export interface CurveKeyPair {
  readonly publicKey: string;
  readonly secretKey: string;
}

/**
 * The provider. Pulumi serializes it into the state and runs it in a separate process, so `create`
 * is self-contained: it captures no imports, only the global `crypto` (WebCrypto) and `Buffer`.
 */
export const curveKeyProvider = {
  async create(): Promise<{ id: string; outs: CurveKeyPair }> {
    const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    const z85 = (bytes: Uint8Array): string => {
      let text = "";
      for (let i = 0; i < bytes.length; i += 4) {
        let value = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
        let chunk = "";
        for (let j = 0; j < 5; j++) {
          chunk = alphabet[value % 85]! + chunk;
          value = Math.floor(value / 85);
        }
        text += chunk;
      }
      return text;
    };
    // CURVE keys are X25519 keys: the raw 32-byte private scalar and public point.
    const pair = (await globalThis.crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"])) as {
      privateKey: Parameters<typeof globalThis.crypto.subtle.exportKey>[1];
    };
    const jwk = await globalThis.crypto.subtle.exportKey("jwk", pair.privateKey);
    if (typeof jwk.d !== "string" || typeof jwk.x !== "string") throw new Error("X25519 key export failed");
    const publicKey = z85(Buffer.from(jwk.x, "base64url"));
    const secretKey = z85(Buffer.from(jwk.d, "base64url"));
    // The id is the public key: safe to show, and unique per keypair.
    return { id: publicKey, outs: { publicKey, secretKey } };
  },
  /** Never changes, never replaces: the keypair is stable until someone asks for `--replace`. */
  async diff(): Promise<pulumi.dynamic.DiffResult> {
    return { changes: false };
  },
} satisfies pulumi.dynamic.ResourceProvider;

/** The server's CURVE keypair. `secretKey` is a Pulumi secret: encrypted in state, masked in output. */
export class CurveServerKey extends pulumi.dynamic.Resource {
  /** Z85 public key; share it with clients. */
  declare readonly publicKey: pulumi.Output<string>;
  /** Z85 secret key; a Pulumi secret. */
  declare readonly secretKey: pulumi.Output<string>;

  constructor(name: string, opts: pulumi.CustomResourceOptions = {}) {
    super(
      curveKeyProvider,
      name,
      { publicKey: undefined, secretKey: undefined },
      { ...opts, additionalSecretOutputs: ["secretKey"] },
      "zeroplane",
      "CurveServerKey",
    );
  }
}
