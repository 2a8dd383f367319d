/** `zeroplane resume <agent-id...>` */
import type { Command } from "commander";
import { registerControlCommand } from "../control.js";

export function register(program: Command): void {
  registerControlCommand(program, { name: "resume", description: "resume paused agents" });
}
