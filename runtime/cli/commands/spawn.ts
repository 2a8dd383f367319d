/** `zeroplane spawn [options] -- <command> [args...]`: starts an agent. */
import type { Command } from "commander";
import type { SpawnParams } from "../../protocol/index.js";
import { parseSize } from "../../runner/limits.js";
import { SPAWN_EXIT_HELP, spawnExitCode } from "../agent-exit.js";
import { describeEnd, formatAgent } from "../agents-format.js";
import { followAgentOutput, PROCESS_OUTPUT } from "../follow-output.js";
import {
  action,
  CliError,
  collectRepeatable,
  EXIT_CODES,
  parsePairs,
  parsePositiveInt,
  printJson,
  withClient,
  withClientOptions,
  type ClientFlags,
} from "../shared.js";

interface SpawnFlags extends ClientFlags {
  readonly name?: string;
  readonly label?: string[];
  readonly env?: string[];
  readonly cwd?: string;
  readonly agentTimeout?: number;
  readonly idempotencyKey?: string;
  readonly wait?: boolean;
  readonly quiet?: boolean;
  // Per-agent limits (docs/runner.md).
  readonly memory?: number;
  readonly cpuSeconds?: number;
  readonly maxProcesses?: number;
  readonly maxOpenFiles?: number;
}

export function register(program: Command): void {
  withClientOptions(
    program
      .command("spawn")
      .description("start an agent process on a server (placed by load when there are several)")
      .argument("<command>", "program to run")
      .argument("[args...]", "its arguments (put -- before them so their flags are not read as ours)")
      .option("-n, --name <name>", "a name for the agent")
      .option("-l, --label <key=value>", "a label, repeatable", collectRepeatable)
      .option("--env <NAME=value>", "an environment variable for the agent, repeatable", collectRepeatable)
      .option("--cwd <dir>", "working directory of the agent")
      .option(
        "--agent-timeout <ms>",
        "stop the agent after this many milliseconds",
        parsePositiveInt("--agent-timeout"),
      )
      .option(
        "--idempotency-key <key>",
        "reuse this key to make retries of this spawn safe (default: a new one)",
      )
      // Per-agent limits (docs/runner.md, "Per-agent limits"); the server caps them at its maxima.
      .option("--memory <size>", "memory (address space) limit, such as 64Mi or 1Gi", parseMemoryFlag)
      .option("--cpu-seconds <n>", "CPU time limit in seconds", parsePositiveInt("--cpu-seconds"))
      .option("--max-processes <n>", "processes of the agent uid limit", parsePositiveInt("--max-processes"))
      .option("--max-open-files <n>", "open files limit", parsePositiveInt("--max-open-files"))
      .option(
        "-w, --wait",
        "print the agent's output until it ends (stdout and stderr to ours), then exit with its code",
      )
      .option("-q, --quiet", "print only the agent id")
      .addHelpText("after", SPAWN_EXIT_HELP),
  ).action(
    action(async (command: string, args: string[], flags: SpawnFlags) => {
      return withClient(flags, async (client) => {
        let agent = await client.spawn({
          command,
          args,
          name: flags.name,
          labels: parsePairs("--label", flags.label),
          env: parsePairs("--env", flags.env),
          cwd: flags.cwd,
          timeoutMs: flags.agentTimeout,
          idempotencyKey: flags.idempotencyKey,
          limits: limitsFrom(flags),
        });
        const streamOutput = flags.wait && !flags.json && !flags.quiet && agent.status !== "failed";
        // Like docker run: the agent's output as it runs, stdout to stdout and stderr to stderr.
        if (streamOutput) await followAgentOutput(client, agent.id, PROCESS_OUTPUT);
        if (flags.wait)
          agent = await client.waitFor(agent.id, { timeoutMs: flags.timeout ?? 24 * 3_600_000 });
        if (flags.json) printJson(agent);
        else if (flags.quiet) process.stdout.write(`${agent.id}\n`);
        else if (streamOutput) process.stderr.write(`zeroplane: ${describeEnd(agent)}\n`);
        else process.stdout.write(formatAgent(agent));
        if (agent.status === "failed" && !flags.json) {
          process.stderr.write(`zeroplane: the agent could not start: ${agent.error ?? "no reason given"}\n`);
        }
        return spawnExitCode(agent, Boolean(flags.wait));
      });
    }),
  );
}

function parseMemoryFlag(value: string): number {
  try {
    return parseSize(value);
  } catch (error) {
    throw new CliError(`--memory: ${(error as Error).message}.`, EXIT_CODES.usage);
  }
}

/** The limits the flags ask for, or undefined when none (the server's defaults apply). */
function limitsFrom(flags: SpawnFlags): SpawnParams["limits"] {
  const limits = {
    memoryBytes: flags.memory,
    cpuSeconds: flags.cpuSeconds,
    maxProcesses: flags.maxProcesses,
    maxOpenFiles: flags.maxOpenFiles,
  };
  return Object.values(limits).some((value) => value !== undefined) ? limits : undefined;
}
