/**
 * The server process: `zeroplane server` and the container image run this. Loads the config,
 * starts the server and drains on SIGTERM or SIGINT, exiting within server.agentDrainMs plus
 * server.shutdownGraceMs.
 * Runs directly too: `node --import tsx runtime/server/main.ts`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Logger } from "pino";
import {
  ConfigError,
  CURVE_SECRET_KEYS,
  ENV_VARS,
  loadConfig,
  type ZeroplaneConfig,
  type ZeroplaneConfigInput,
} from "../config/index.js";
import { keyFingerprint, publicKeyFromSecret, readSecretKey } from "../security/keys.js";
import { isEntryModule } from "../entry.js";
import { holdEventLoop } from "../cli/keep-alive.js";
import { createLogger } from "../observability/logger.js";
import { shutdownBudgetMs } from "./drain.js";
import { tuneServerGc } from "./gc-tuning.js";
import { startServer } from "./index.js";

/**
 * Starts the server with config from defaults, ZEROPLANE_CONFIG, ZEROPLANE_* variables and the
 * overrides. Resolves once serving; the process exits after a signal-driven drain. Rejects with a
 * ConfigError (naming the setting and the fix) when the server cannot start.
 */
export async function runServerProcess(overrides?: ZeroplaneConfigInput): Promise<void> {
  tuneServerGc();
  const config = loadConfig(overrides ? { overrides } : {});
  const logger = createLogger({ level: config.log.level, bindings: { serverId: config.server.id } });
  if (config.security.curve) announceServerKey(config, logger);
  const server = await holdEventLoop(startServer(config, { logger }));

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, "second signal: exiting without finishing the drain");
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal }, "shutdown requested");
    // The drain has its own deadline; this one guarantees exit even if a step hangs.
    const hardStop = setTimeout(() => {
      logger.error("shutdown grace period exceeded: exiting");
      process.exit(1);
    }, shutdownBudgetMs(config.server));
    hardStop.unref();
    server.shutdown().then(
      () => process.exit(0),
      (error: Error) => {
        logger.error({ err: error.message }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

/**
 * Refuses a secret key file that holds a public key found beside it (keygen's server.key given as
 * --secret-key-file: the server would start and every client would then fail), and logs the public
 * key and its fingerprint, which clients compare with theirs.
 */
function announceServerKey(config: ZeroplaneConfig, logger: Logger): void {
  const secretKey = readSecretKey(config);
  const file = config.security.secretKeyFile;
  if (file) {
    const publicTwin = findPublicKeyTwin(file, secretKey);
    if (publicTwin) {
      throw new ConfigError(
        `the CURVE secret key file ${file} (${ENV_VARS["security.secretKeyFile"]}) holds a public key: ${publicTwin}. Fix: point it at the ${CURVE_SECRET_KEYS.secretKey} file that \`zeroplane keygen\` wrote (clients get ${CURVE_SECRET_KEYS.publicKey}).`,
        "security.secretKeyFile",
      );
    }
  }
  const publicKey = publicKeyFromSecret(secretKey);
  logger.info(
    { serverPublicKey: publicKey, serverKeyFingerprint: keyFingerprint(publicKey) },
    "CURVE on: clients need this server public key (compare fingerprints when authentication fails)",
  );
}

/**
 * Why the key in `file` is a public key known beside it, or null: it is the public half of a
 * `*_secret` key in the same folder, or the same text as another `*.key` file there.
 */
function findPublicKeyTwin(file: string, key: string): string | null {
  const dir = dirname(file);
  for (const name of safeReaddir(dir)) {
    const sibling = join(dir, name);
    if (name === basename(file)) continue;
    const text = readSmallText(sibling);
    if (!text) continue;
    if (name.endsWith("_secret")) {
      try {
        if (publicKeyFromSecret(text) === key) return `it is the public half of the secret key in ${sibling}`;
      } catch {
        // Not a key: nothing to compare.
      }
    } else if (name.endsWith(".key") && text === key) {
      return `the same key as the public key file ${sibling}`;
    }
  }
  return null;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A key file's trimmed text, or null for anything unreadable or too large to be a key. */
function readSmallText(path: string): string | null {
  try {
    const text = readFileSync(path, "utf8");
    return text.length <= 200 ? text.trim() : null;
  } catch {
    return null;
  }
}

// Bundled into the CLI, import.meta.url is the bundle's own file: only run when this is server/main.
const isMainModule = isEntryModule(import.meta.url, /[\\/]server[\\/]main\.[cm]?[jt]s$/);

if (isMainModule && process.argv[2] === "runner") {
  // The server started from this entry runs its runner the same way (see runner/remote/connect.ts).
  const { runRunnerFromArgs } = await import("../runner/main.js");
  runRunnerFromArgs(process.argv.slice(2));
} else if (isMainModule) {
  runServerProcess().catch((error: Error) => {
    process.stderr.write(`zeroplane server: ${error.message}\n`);
    process.exit(1);
  });
}
