/**
 * The server process: `zeroplane server` and the container image run this. Loads the config,
 * starts the server and drains on SIGTERM or SIGINT, exiting within server.agentDrainMs plus
 * server.shutdownGraceMs.
 * Runs directly too: `node --import tsx runtime/server/main.ts`.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadConfig, type ZeroplaneConfigInput } from "../config/index.js";
import { holdEventLoop } from "../cli/keep-alive.js";
import { createLogger } from "../observability/logger.js";
import { shutdownBudgetMs } from "./drain.js";
import { startServer } from "./index.js";

/**
 * Starts the server with config from defaults, ZEROPLANE_CONFIG, ZEROPLANE_* variables and the
 * overrides. Resolves once serving; the process exits after a signal-driven drain. Rejects with a
 * ConfigError (naming the setting and the fix) when the server cannot start.
 */
export async function runServerProcess(overrides?: ZeroplaneConfigInput): Promise<void> {
  const config = loadConfig(overrides ? { overrides } : {});
  const logger = createLogger({ level: config.log.level, bindings: { serverId: config.server.id } });
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

function isMainModule(): boolean {
  const entry = process.argv[1];
  const self = fileURLToPath(import.meta.url);
  // Bundled into the CLI, import.meta.url is the bundle's own file: only run when this is server/main.
  if (!entry || !/[\\/]server[\\/]main\.[cm]?[jt]s$/.test(self)) return false;
  try {
    return realpathSync(entry) === realpathSync(self);
  } catch {
    return false;
  }
}

if (isMainModule() && process.argv[2] === "runner") {
  // The server started from this entry runs its runner the same way (see runner/remote/connect.ts).
  const { runRunnerFromArgs } = await import("../runner/main.js");
  runRunnerFromArgs(process.argv.slice(2));
} else if (isMainModule()) {
  runServerProcess().catch((error: Error) => {
    process.stderr.write(`zeroplane server: ${error.message}\n`);
    process.exit(1);
  });
}
