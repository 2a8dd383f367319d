/**
 * The server's CURVE keypair: generate, read, derive the public half, write to a directory.
 * Keys are Z85 text (40 characters). Nothing here logs a key.
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { curveKeyPair } from "zeromq";
import { CURVE_SECRET_KEYS, ConfigError, ENV_VARS, type ZeroplaneConfig } from "../config/index.js";
import { isZ85Key, z85Decode, z85Encode } from "./z85.js";

export interface CurveKeypair {
  /** Z85, 40 characters. Safe to share with clients. */
  readonly publicKey: string;
  /** Z85, 40 characters. Keep in a Secret; never log it. */
  readonly secretKey: string;
}

/** A fresh random CURVE keypair. */
export function generateKeypair(): CurveKeypair {
  const { publicKey, secretKey } = curveKeyPair();
  return { publicKey, secretKey };
}

/** PKCS#8 DER header for a raw 32-byte X25519 private key (RFC 8410). */
const X25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/** Derives the Z85 public key from a Z85 secret key (CURVE keys are X25519 keys). */
export function publicKeyFromSecret(secretKey: string): string {
  if (!isZ85Key(secretKey)) {
    throw new RangeError("a CURVE secret key must be 40 characters of Z85 text");
  }
  const raw = z85Decode(secretKey);
  const privateKey = createPrivateKey({
    key: Buffer.concat([X25519_PKCS8_PREFIX, raw]),
    format: "der",
    type: "pkcs8",
  });
  const jwk = createPublicKey(privateKey).export({ format: "jwk" });
  if (typeof jwk.x !== "string") throw new Error("X25519 public key export returned no key");
  return z85Encode(Buffer.from(jwk.x, "base64url"));
}

/**
 * A short, non-reversible label for a public key (Z85 text or the raw 32 bytes), for log lines and
 * ZAP user ids. Never log the key itself.
 */
export function keyFingerprint(publicKey: string | Uint8Array): string {
  const text = typeof publicKey === "string" ? publicKey : z85Encode(publicKey);
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}

const KEYGEN_HINT = `Fix: run \`zeroplane keygen\` to create a keypair and point ${ENV_VARS["security.secretKeyFile"]} at its ${CURVE_SECRET_KEYS.secretKey} file (or set ${ENV_VARS["security.secretKey"]}), or turn CURVE off for loopback-only use with ${ENV_VARS["security.curve"]}=false.`;

/**
 * The server's secret key, from `security.secretKeyFile` (a mounted Secret) or `security.secretKey`.
 * Throws ConfigError naming the setting and the fix when none is configured or the key is malformed.
 */
export function readSecretKey(config: ZeroplaneConfig): string {
  const { secretKey, secretKeyFile } = config.security;
  if (secretKeyFile) {
    let text: string;
    try {
      text = readFileSync(secretKeyFile, "utf8");
    } catch (error) {
      throw new ConfigError(
        `cannot read the CURVE secret key file ${secretKeyFile} (${ENV_VARS["security.secretKeyFile"]}): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}. ${KEYGEN_HINT}`,
        "security.secretKeyFile",
      );
    }
    const key = text.trim();
    if (!isZ85Key(key)) {
      throw new ConfigError(
        `the CURVE secret key file ${secretKeyFile} (${ENV_VARS["security.secretKeyFile"]}) does not hold a 40-character Z85 key (found ${key.length} characters). ${KEYGEN_HINT}`,
        "security.secretKeyFile",
      );
    }
    return key;
  }
  if (secretKey) {
    if (!isZ85Key(secretKey)) {
      throw new ConfigError(
        `${ENV_VARS["security.secretKey"]} is not a valid 40-character Z85 key. ${KEYGEN_HINT}`,
        "security.secretKey",
      );
    }
    return secretKey;
  }
  throw new ConfigError(
    `CURVE is on but no server secret key is configured (${ENV_VARS["security.secretKeyFile"]} and ${ENV_VARS["security.secretKey"]} are unset). ${KEYGEN_HINT}`,
    "security.secretKeyFile",
  );
}

export interface WrittenKeypair extends CurveKeypair {
  readonly publicKeyFile: string;
  readonly secretKeyFile: string;
}

export interface WriteKeypairOptions {
  /** Replace existing key files. @default false */
  readonly overwrite?: boolean;
  /** Use this keypair instead of generating one. */
  readonly keypair?: CurveKeypair;
}

/**
 * Writes a keypair into `dir` as `server.key` (public) and `server.key_secret` (secret), both mode 0600,
 * the names the constructs mount. Refuses to replace existing files unless `overwrite` is set.
 */
export function writeKeypair(dir: string, options: WriteKeypairOptions = {}): WrittenKeypair {
  const keypair = options.keypair ?? generateKeypair();
  const publicKeyFile = join(dir, CURVE_SECRET_KEYS.publicKey);
  const secretKeyFile = join(dir, CURVE_SECRET_KEYS.secretKey);
  if (!options.overwrite) {
    for (const file of [publicKeyFile, secretKeyFile]) {
      if (existsSync(file)) {
        throw new Error(
          `${file} already exists; refusing to replace a key. Fix: choose another directory, delete the old keypair, or pass overwrite (zeroplane keygen --force).`,
        );
      }
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileWithMode(publicKeyFile, `${keypair.publicKey}\n`, 0o600);
  writeFileWithMode(secretKeyFile, `${keypair.secretKey}\n`, 0o600);
  return { ...keypair, publicKeyFile, secretKeyFile };
}

/**
 * Writes `file` so that it never exists with another mode: the content goes to a new temp file in the
 * same directory, created with `mode`, which is then renamed over `file`. (Writing to an existing file
 * keeps its old mode until a later chmod, so a replaced secret could briefly be readable.)
 */
export function writeFileWithMode(file: string, content: string, mode: number): void {
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    writeFileSync(temp, content, { mode, flag: "wx" });
    // The umask may have cleared bits of `mode`; the temp file is new, so this never loosens a secret.
    chmodSync(temp, mode);
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
