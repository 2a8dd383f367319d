#!/usr/bin/env node
/**
 * The `zeroplane` command. Each subcommand lives in ./commands/<name>.ts and registers itself.
 * Exit codes (see EXIT_CODES in ./shared.ts and docs/client.md): 0 ok, 1 server error,
 * 2 usage, 3 unreachable or timed out, 4 authentication failed, 5 local file error.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { VERSION } from "../version.js";
import { register as registerBatch } from "./commands/batch.js";
import { register as registerCompletion } from "./commands/completion.js";
import { register as registerContext } from "./commands/context.js";
import { register as registerEvents } from "./commands/events.js";
import { register as registerGet } from "./commands/get.js";
import { register as registerHealth } from "./commands/health.js";
import { register as registerInit } from "./commands/init.js";
import { register as registerKeygen } from "./commands/keygen.js";
import { register as registerKill } from "./commands/kill.js";
import { register as registerList } from "./commands/list.js";
import { register as registerLogs } from "./commands/logs.js";
import { register as registerPause } from "./commands/pause.js";
import { register as registerResume } from "./commands/resume.js";
import { register as registerRunner } from "./commands/runner.js";
import { register as registerServer } from "./commands/server.js";
import { register as registerSignal } from "./commands/signal.js";
import { register as registerSpawn } from "./commands/spawn.js";
import { register as registerStats } from "./commands/stats.js";
import { register as registerStop } from "./commands/stop.js";
import { register as registerTop } from "./commands/top.js";
import { register as registerUp } from "./commands/up.js";
import { register as registerWrite } from "./commands/write.js";
import { holdEventLoop } from "./keep-alive.js";
import { CliError, EXIT_CODES, EXIT_CODES_HELP, agentFlagHint, exitCodeFor, reportError } from "./shared.js";

/** True when the command line asks for JSON (an agent's own `--json`, after `--`, does not count). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).includes("--json");
}

/** The program with every command registered. */
export function buildProgram(argv: readonly string[] = []): Command {
  const json = wantsJson(argv);
  const program = new Command("zeroplane")
    .description("run and control agents on Zeroplane servers")
    .version(VERSION)
    .showHelpAfterError("(run with --help for usage)")
    // With --json, main() reports usage errors as JSON; Commander's text would break the stream.
    .configureOutput({ writeErr: (text) => (json ? undefined : process.stderr.write(text)) })
    .addHelpText("after", EXIT_CODES_HELP)
    .exitOverride();
  for (const register of [
    registerUp,
    registerContext,
    registerInit,
    registerServer,
    registerRunner,
    registerKeygen,
    registerSpawn,
    registerList,
    registerGet,
    registerLogs,
    registerWrite,
    registerPause,
    registerResume,
    registerStop,
    registerKill,
    registerSignal,
    registerBatch,
    registerHealth,
    registerStats,
    registerEvents,
    registerTop,
    registerCompletion,
  ]) {
    register(program);
  }
  for (const command of program.commands) command.exitOverride().addHelpText("after", EXIT_CODES_HELP);
  return program;
}

/** Runs the CLI; resolves with the exit code (the server command keeps running after it resolves). */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  const json = wantsJson(argv);
  try {
    await holdEventLoop(buildProgram(argv).parseAsync([...argv]));
    return typeof process.exitCode === "number" ? process.exitCode : EXIT_CODES.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return EXIT_CODES.ok; // --help or --version
      const hint = agentFlagHint(argv);
      // In text mode Commander has printed its message already; only the hint is left to add.
      if (json)
        reportError(new CliError(`${error.message.replace(/^error: /, "")}.${hint}`, EXIT_CODES.usage), true);
      else if (hint) process.stderr.write(`zeroplane:${hint}\n`);
      return EXIT_CODES.usage;
    }
    const hint = exitCodeFor(error) === EXIT_CODES.usage ? agentFlagHint(argv) : "";
    reportError(hint ? new CliError(`${(error as Error).message}${hint}`, EXIT_CODES.usage) : error, json);
    return exitCodeFor(error);
  }
}

function isMainModule(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  main().then((code) => {
    process.exitCode = code;
  });
}
