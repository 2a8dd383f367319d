/**
 * The client's CURVE settings: the server's public key and the client's keypair, each given directly,
 * as a file, or through the environment (names in CLIENT_ENV_VARS).
 */
import { readFileSync } from "node:fs";
import { curveKeyPair } from "zeromq";
import { CLIENT_ENV_VARS, Z85_KEY_PATTERN } from "../config/index.js";
import { publicKeyFromSecret } from "../security/keys.js";
import { ClientUsageError } from "./errors.js";

export interface CurveClientKeys {
  /** The server's public key, Z85. */
  readonly serverPublicKey: string;
  /** The client's public key, Z85. */
  readonly publicKey: string;
  /** The client's secret key, Z85. */
  readonly secretKey: string;
}

/** Where each key may come from. A key given directly wins over its file. */
export interface CurveKeySources {
  readonly serverPublicKey?: string;
  readonly serverPublicKeyFile?: string;
  readonly clientSecretKey?: string;
  readonly clientSecretKeyFile?: string;
  readonly clientPublicKey?: string;
  readonly clientPublicKeyFile?: string;
}

/** Checks a Z85 key, naming where it came from when it is malformed. */
export function checkZ85Key(key: string, source: string): string {
  const trimmed = key.trim();
  if (!Z85_KEY_PATTERN.test(trimmed)) {
    throw new ClientUsageError(
      `${source} is not a 40-character Z85 CURVE key (got ${trimmed.length} characters). Fix: use a key written by \`zeroplane keygen\`.`,
    );
  }
  return trimmed;
}

function readKeyFile(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ClientUsageError(
      `cannot read the ${what} file ${path}: ${(error as Error).message}. Fix: check the path and its permissions.`,
    );
  }
  return checkZ85Key(text, `the ${what} file ${path}`);
}

function pick(direct: string | undefined, file: string | undefined, what: string): string | undefined {
  if (direct) return checkZ85Key(direct, `the ${what}`);
  if (file) return readKeyFile(file, what);
  return undefined;
}

/** Reads the key sources named by CLIENT_ENV_VARS from an environment. */
export function curveSourcesFromEnv(env: NodeJS.ProcessEnv = process.env): CurveKeySources {
  const value = (name: string) => (env[name] ? env[name] : undefined);
  return {
    serverPublicKey: value(CLIENT_ENV_VARS.serverPublicKey),
    serverPublicKeyFile: value(CLIENT_ENV_VARS.serverPublicKeyFile),
    clientSecretKey: value(CLIENT_ENV_VARS.clientSecretKey),
    clientSecretKeyFile: value(CLIENT_ENV_VARS.clientSecretKeyFile),
    clientPublicKey: value(CLIENT_ENV_VARS.clientPublicKey),
    clientPublicKeyFile: value(CLIENT_ENV_VARS.clientPublicKeyFile),
  };
}

/**
 * Resolves CURVE keys. Without a server public key, CURVE is off (returns null; fine for loopback).
 * With one but no client keypair, the client uses a fresh ephemeral keypair: the connection is
 * encrypted, but a server with an allowlist will refuse it.
 */
export function resolveCurveKeys(sources: CurveKeySources): CurveClientKeys | null {
  const serverPublicKey = pick(sources.serverPublicKey, sources.serverPublicKeyFile, "server public key");
  const secretKey = pick(sources.clientSecretKey, sources.clientSecretKeyFile, "client secret key");
  const publicKey = pick(sources.clientPublicKey, sources.clientPublicKeyFile, "client public key");
  if (!serverPublicKey) {
    if (secretKey || publicKey) {
      throw new ClientUsageError(
        `a client key is set but the server public key is not, so CURVE cannot be used. Fix: set ${CLIENT_ENV_VARS.serverPublicKeyFile} (or --server-key-file) to the server's public key file.`,
      );
    }
    return null;
  }
  if (!secretKey && !publicKey) {
    const ephemeral = curveKeyPair();
    return { serverPublicKey, publicKey: ephemeral.publicKey, secretKey: ephemeral.secretKey };
  }
  if (secretKey && !publicKey) {
    return { serverPublicKey, publicKey: publicKeyFromSecret(secretKey), secretKey };
  }
  if (!secretKey || !publicKey) {
    throw new ClientUsageError(
      `a client public key is set without its secret key. Fix: set ${CLIENT_ENV_VARS.clientSecretKeyFile} (or --client-key-file) to the matching secret key file.`,
    );
  }
  if (publicKeyFromSecret(secretKey) !== publicKey) {
    throw new ClientUsageError(
      `the client public key does not belong to the client secret key. Fix: use the two files of one keypair from \`zeroplane keygen\`, or leave the public key out (it is derived from the secret key).`,
    );
  }
  return { serverPublicKey, publicKey, secretKey };
}
