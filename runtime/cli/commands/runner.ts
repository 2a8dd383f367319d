/**
 * `zeroplane runner --listen PATH`: the separate runner process that starts and watches agents for
 * one server (the Kubernetes runner container runs this; `zeroplane server` starts it itself).
 * See docs/runner.md.
 */
import type { Command } from "commander";
import { DEFAULT_PATHS, ENV_VARS } from "../../config/index.js";
import { action } from "../shared.js";

interface RunnerFlags {
  readonly listen: string;
  readonly stateDir?: string;
  readonly exitWithStdin?: boolean;
}

export function register(program: Command): void {
  program
    .command("runner")
    .description("run the agent runner for one server on a Unix socket (one connection per lifetime)")
    .option("--listen <path>", "Unix socket to listen on", DEFAULT_PATHS.runnerSocket)
    .option(
      "--state-dir <dir>",
      `writable directory for agent records (default $${ENV_VARS["runner.stateDir"]})`,
    )
    .option("--exit-with-stdin", "exit when stdin closes (the parent that started this runner is gone)")
    .action(
      action(async (flags: RunnerFlags) => {
        // Loaded here so the other commands start without loading the runner.
        const { defaultRunnerStateDir, runRunnerProcess } = await import("../../runner/main.js");
        await runRunnerProcess({
          listen: flags.listen,
          stateDir: flags.stateDir ?? defaultRunnerStateDir(),
          exitWithStdin: flags.exitWithStdin ?? false,
        });
      }),
    );
}
