/**
 * The process runner's entry point. The server uses only `createAgentRunner` and the types in api.ts.
 * See docs/runner.md.
 */
import { randomBytes } from "node:crypto";
import type { AgentRunnerOptions } from "./api.js";
import { ProcessRunner } from "./process-runner.js";
import { AgentRecords } from "./records.js";
import { Watchdog } from "./watchdog.js";

export type { AgentRunner, AgentRunnerEvents, AgentRunnerOptions } from "./api.js";
export { ProcessRunner } from "./process-runner.js";
export type { AgentRecord, ReapReport } from "./records.js";
export type { MemoryBudgetStats } from "./memory-budget.js";
export { readAgentRecords, recordsPath } from "./records.js";
export { buildAgentEnv, INHERITED_ENV_VARS, RUNNER_INSTANCE_ENV_VAR } from "./agent-env.js";

/**
 * Opens `options.stateDir` (killing agents left alive by a previous server that crashed, and
 * recording this runner's new instance id), starts the watchdog, and returns a runner ready to spawn.
 * Throws if the options are invalid or another live runner owns the stateDir.
 */
export async function createAgentRunner(options: AgentRunnerOptions): Promise<ProcessRunner> {
  validateOptions(options);
  // Marks every agent of this runner start (AGENT_RUNNER_INSTANCE), so none can escape the orphan sweep.
  const instanceId = randomBytes(16).toString("hex");
  const { records, report } = await AgentRecords.open(options.stateDir, instanceId);
  const watchdog = new Watchdog(instanceId, (message) =>
    process.emitWarning(message, "ZeroplaneRunnerWarning"),
  );
  return new ProcessRunner({ ...options }, records, watchdog, report);
}

function validateOptions(options: AgentRunnerOptions): void {
  const integers: Array<[keyof AgentRunnerOptions, number]> = [
    ["maxAgents", 1],
    ["outputCapBytes", 1],
    ["retentionMs", 0],
    ["stopGraceMs", 1],
  ];
  for (const [key, min] of integers) {
    const value = options[key];
    if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
      throw new RangeError(
        `runner option ${key} must be an integer of at least ${min}, got ${JSON.stringify(value)}`,
      );
    }
  }
  const budget = options.memoryBudgetBytes;
  if (budget !== undefined && (!Number.isSafeInteger(budget) || budget < 0)) {
    throw new RangeError(
      `runner option memoryBudgetBytes must be an integer of at least 0 (0 derives it from the container memory limit), got ${JSON.stringify(budget)}`,
    );
  }
  if (!options.serverId) throw new RangeError("runner option serverId must be a non-empty string");
  if (!options.stateDir) {
    throw new RangeError("runner option stateDir must be a writable directory path, got an empty value");
  }
}
