/** Pulumi entry point (`main: stacks/` in Pulumi.yaml). The default export runs; its result is the stack outputs. */
import { zeroplaneProgram } from "./program.js";

export default zeroplaneProgram;
