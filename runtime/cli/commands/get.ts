/** `zeroplane get <agent-id>`: everything known about one agent. */
import type { Command } from "commander";
import { formatAgent } from "../agents-format.js";
import { action, printJson, withClient, withClientOptions, type ClientFlags } from "../shared.js";

export function register(program: Command): void {
  withClientOptions(
    program.command("get").description("show one agent").argument("<agent-id>", "the agent's id"),
  ).action(
    action(async (agentId: string, flags: ClientFlags) => {
      await withClient(flags, async (client) => {
        const agent = await client.get(agentId);
        if (flags.json) printJson(agent);
        else process.stdout.write(formatAgent(agent));
      });
    }),
  );
}
