/** `zeroplane kill <agent-id...>` */
import type { Command } from "commander";
import { registerControlCommand } from "../control.js";

export function register(program: Command): void {
  registerControlCommand(program, { name: "kill", description: "kill agents at once (SIGKILL)" });
}
