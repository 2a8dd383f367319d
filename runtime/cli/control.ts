/** The control commands (pause, resume, stop, kill, signal) share one shape: one or more agent ids. */
import type { Command } from "commander";
import type { BatchControlParams, ControlAction } from "../protocol/index.js";
import { formatAgents } from "./agents-format.js";
import { formatBatch } from "./commands/batch.js";
import { EXIT_CODES, action, printJson, withClient, withClientOptions, type ClientFlags } from "./shared.js";

export interface ControlCommandSpec {
  readonly name: ControlAction;
  readonly description: string;
  /** Adds command-specific options. */
  readonly options?: (command: Command) => Command;
  /** Extra params from those options. */
  readonly params?: (flags: Record<string, unknown>) => Partial<BatchControlParams>;
}

/** Registers `zeroplane <action> <agent-id...>`: one id uses control, several use batchControl. */
export function registerControlCommand(program: Command, spec: ControlCommandSpec): void {
  let command = program
    .command(spec.name)
    .description(spec.description)
    .argument("<agent-ids...>", "one or more agent ids");
  command = withClientOptions(spec.options ? spec.options(command) : command);
  command.action(
    action(async (agentIds: string[], flags: ClientFlags & Record<string, unknown>) => {
      const extra = spec.params?.(flags) ?? {};
      return withClient(flags, async (client) => {
        if (agentIds.length === 1) {
          const agent = await client.control({ agentId: agentIds[0]!, action: spec.name, ...extra });
          if (flags.json) printJson(agent);
          else process.stdout.write(formatAgents([agent]));
          return EXIT_CODES.ok;
        }
        const result = await client.batchControl({ agentIds, action: spec.name, ...extra });
        if (flags.json) printJson(result);
        else process.stdout.write(formatBatch(result));
        return result.results.every((r) => r.ok) ? EXIT_CODES.ok : EXIT_CODES.serverError;
      });
    }),
  );
}
