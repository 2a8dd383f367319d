/**
 * NATS connection options from the Zeroplane config: seed URLs, TLS files and credentials read
 * from mounted files. Credentials are read once here and never logged; `describeAuth` names the
 * method only.
 */
import { readFileSync } from "node:fs";
import {
  credsAuthenticator,
  nkeyAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
  type Authenticator,
  type ConnectionOptions,
} from "nats";
import { ConfigError, ENV_VARS, type ZeroplaneConfig } from "../config/index.js";

type NatsConfig = ZeroplaneConfig["nats"];

/** The authentication method the config selects, for logs: never the secret itself. */
export function describeAuth(nats: NatsConfig): "creds" | "nkey" | "token" | "user-password" | "none" {
  if (nats.credsFile) return "creds";
  if (nats.nkeySeedFile) return "nkey";
  if (nats.tokenFile) return "token";
  if (nats.userFile || nats.passwordFile) return "user-password";
  return "none";
}

/** Options for `connect()`: reconnects forever with the configured wait, a jittered backoff. */
export function connectionOptions(nats: NatsConfig, name: string): ConnectionOptions {
  const options: ConnectionOptions = {
    servers: nats.urls,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: nats.reconnectWaitMs,
    reconnectJitter: Math.min(1000, Math.ceil(nats.reconnectWaitMs / 2)),
    reconnectJitterTLS: Math.min(2000, nats.reconnectWaitMs),
    waitOnFirstConnect: true,
    pingInterval: 10_000,
    maxPingOut: 3,
  };
  const tls = tlsOptions(nats);
  if (tls) options.tls = tls;
  const authenticator = authenticatorFor(nats);
  if (authenticator) options.authenticator = authenticator;
  return options;
}

function tlsOptions(nats: NatsConfig): ConnectionOptions["tls"] {
  if (!nats.tlsCaFile && !nats.tlsCertFile && !nats.tlsKeyFile) {
    return nats.urls.some((url) => url.startsWith("tls://")) ? {} : undefined;
  }
  if (Boolean(nats.tlsCertFile) !== Boolean(nats.tlsKeyFile)) {
    throw new ConfigError(
      `NATS TLS client certificate needs both ${ENV_VARS["nats.tlsCertFile"]} and ${ENV_VARS["nats.tlsKeyFile"]}; got only ${nats.tlsCertFile ? "the certificate" : "the key"}. Fix: set both, or neither.`,
      nats.tlsCertFile ? "nats.tlsKeyFile" : "nats.tlsCertFile",
    );
  }
  // Read now so a missing file fails at start, with the path named (the content is not logged).
  return {
    ...(nats.tlsCaFile ? { ca: readSecretFile(nats.tlsCaFile, "nats.tlsCaFile") } : {}),
    ...(nats.tlsCertFile ? { cert: readSecretFile(nats.tlsCertFile, "nats.tlsCertFile") } : {}),
    ...(nats.tlsKeyFile ? { key: readSecretFile(nats.tlsKeyFile, "nats.tlsKeyFile") } : {}),
  };
}

function authenticatorFor(nats: NatsConfig): Authenticator | undefined {
  const chosen = [
    nats.credsFile && "credsFile",
    nats.nkeySeedFile && "nkeySeedFile",
    nats.tokenFile && "tokenFile",
    (nats.userFile || nats.passwordFile) && "userFile/passwordFile",
  ].filter(Boolean);
  if (chosen.length > 1) {
    throw new ConfigError(
      `NATS credentials are configured more than one way (${chosen.join(", ")}). Fix: set exactly one of nats.credsFile, nats.nkeySeedFile, nats.tokenFile, or nats.userFile with nats.passwordFile.`,
      "nats.credsFile",
    );
  }
  if (nats.credsFile) {
    return credsAuthenticator(new TextEncoder().encode(readSecretFile(nats.credsFile, "nats.credsFile")));
  }
  if (nats.nkeySeedFile) {
    const seed = readSecretFile(nats.nkeySeedFile, "nats.nkeySeedFile").trim();
    return nkeyAuthenticator(new TextEncoder().encode(seed));
  }
  if (nats.tokenFile) {
    return tokenAuthenticator(readSecretFile(nats.tokenFile, "nats.tokenFile").trim());
  }
  if (nats.userFile || nats.passwordFile) {
    if (!nats.userFile || !nats.passwordFile) {
      throw new ConfigError(
        `NATS user/password authentication needs both ${ENV_VARS["nats.userFile"]} and ${ENV_VARS["nats.passwordFile"]}. Fix: set both files.`,
        nats.userFile ? "nats.passwordFile" : "nats.userFile",
      );
    }
    const user = readSecretFile(nats.userFile, "nats.userFile").trim();
    const password = readSecretFile(nats.passwordFile, "nats.passwordFile").replace(/\r?\n$/, "");
    return usernamePasswordAuthenticator(user, password);
  }
  return undefined;
}

function readSecretFile(path: string, key: keyof typeof ENV_VARS & `nats.${string}`): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(
      `cannot read ${key} (${ENV_VARS[key]}) at ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}. Fix: mount the NATS secret at that path or correct the setting.`,
      key,
    );
  }
}
