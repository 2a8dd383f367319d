/**
 * JSON logs via pino. Key material never reaches a log line: fields that could hold a key are redacted,
 * and the security code logs key fingerprints at most.
 */
import { pino, type Logger, type DestinationStream } from "pino";
import { VERSION } from "../version.js";

/** Field paths censored wherever they appear (top level or one level down). */
export const REDACTED_FIELDS: readonly string[] = [
  "secretKey",
  "secretKeyFile",
  "publicKey",
  "clientKey",
  "curveSecretKey",
  "curvePublicKey",
  "curveServerKey",
  "password",
  "token",
  "nkeySeed",
  "creds",
].flatMap((field) => [field, `*.${field}`, `*.*.${field}`]);

export interface LoggerOptions {
  readonly level?: pino.LevelWithSilent;
  /** Fields added to every line, such as the server id. */
  readonly bindings?: Record<string, unknown>;
  /** Where to write. @default stdout */
  readonly destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const config: pino.LoggerOptions = {
    level: options.level ?? "info",
    base: { service: "zeroplane", version: VERSION, ...options.bindings },
    redact: { paths: [...REDACTED_FIELDS], censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}
