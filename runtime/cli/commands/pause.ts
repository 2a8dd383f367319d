/** `zeroplane pause <agent-id...>` */
import type { Command } from "commander";
import { registerControlCommand } from "../control.js";

export function register(program: Command): void {
  registerControlCommand(program, {
    name: "pause",
    description: "pause agents (SIGSTOP to their process group)",
  });
}
