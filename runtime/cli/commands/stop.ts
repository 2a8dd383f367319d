/** `zeroplane stop <agent-id...> [--grace ms]` */
import type { Command } from "commander";
import { registerControlCommand } from "../control.js";
import { parsePositiveInt } from "../shared.js";

export function register(program: Command): void {
  registerControlCommand(program, {
    name: "stop",
    description: "stop agents: SIGTERM, then SIGKILL after the grace period",
    options: (command) =>
      command.option(
        "--grace <ms>",
        "milliseconds between SIGTERM and SIGKILL (default: the server's)",
        parsePositiveInt("--grace"),
      ),
    params: (flags) => ({ graceMs: flags.grace as number | undefined }),
  });
}
