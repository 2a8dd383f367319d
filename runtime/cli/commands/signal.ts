/** `zeroplane signal <agent-id...> --signal SIGUSR1` */
import type { Command } from "commander";
import { registerControlCommand } from "../control.js";

export function register(program: Command): void {
  registerControlCommand(program, {
    name: "signal",
    description: "send a signal to agents",
    options: (command) => command.requiredOption("-s, --signal <name>", "signal name, such as SIGUSR1"),
    params: (flags) => ({ signal: flags.signal as string }),
  });
}
