/**
 * The process runner's entry point. The server uses only `createAgentRunner` and the types in api.ts.
 * See docs/runner.md.
 */
import {
  AGENT_DEFAULT_GID,
  AGENT_DEFAULT_UID,
  DEFAULT_PATHS,
  type ZeroplaneConfig,
} from "../config/index.js";
import type { AgentRunnerOptions, RunnerIsolation } from "./api.js";
import { InlineLauncher } from "./inline-launcher.js";
import type { ProcessLauncher } from "./launcher.js";
import { ProcessRunner } from "./process-runner.js";
import { connectRunnerSocket, startRunnerProcess } from "./remote/connect.js";
import { RemoteLauncher } from "./remote/launcher.js";
import { ReconnectingLauncher } from "./remote/reconnecting.js";

export type { AgentRunner, AgentRunnerEvents, AgentRunnerOptions, RunnerIsolation } from "./api.js";
export type { AgentLimits, LimitPolicy } from "./limits.js";
export { ProcessRunner } from "./process-runner.js";
export type { AgentRecord, ReapReport } from "./records.js";
export type { MemoryBudgetStats } from "./memory-budget.js";
export { readAgentRecords, recordsPath } from "./records.js";
export { describeLimitEnd, effectiveLimits, formatLimit, parseSize, LIMIT_LABELS } from "./limits.js";
export { buildAgentEnv, INHERITED_ENV_VARS, RUNNER_INSTANCE_ENV_VAR } from "./agent-env.js";

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/**
 * Returns a runner ready to spawn. Inline (the default here): opens `options.stateDir` (killing
 * agents left alive by a previous server that crashed) and starts the watchdog in this process.
 * Modes "process" and "socket": starts or reaches the separate runner process, which does the same
 * in its own state directory. Throws if the options are invalid, another live runner owns the
 * stateDir, or the runner cannot be reached.
 */
export async function createAgentRunner(options: AgentRunnerOptions): Promise<ProcessRunner> {
  validateOptions(options);
  const launcher = await openLauncher(options);
  return new ProcessRunner({ ...options }, launcher);
}

async function openLauncher(options: AgentRunnerOptions): Promise<ProcessLauncher> {
  const isolation: RunnerIsolation = options.isolation ?? { mode: "inline" };
  const timeoutMs = isolation.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const warn = (message: string) => process.emitWarning(message, "ZeroplaneRunnerWarning");
  switch (isolation.mode) {
    case "inline":
      return InlineLauncher.open(options.stateDir);
    case "process":
      return ReconnectingLauncher.open(async (onLost) => {
        const { socket } = await startRunnerProcess({
          stateDir: options.stateDir,
          agentUid: isolation.agentUid ?? AGENT_DEFAULT_UID,
          agentGid: isolation.agentGid ?? AGENT_DEFAULT_GID,
          timeoutMs,
        });
        return RemoteLauncher.attach(socket, onLost, timeoutMs);
      }, warn);
    case "socket":
      return ReconnectingLauncher.open(async (onLost) => {
        const path = isolation.socket ?? DEFAULT_PATHS.runnerSocket;
        const { socket } = await connectRunnerSocket(path, timeoutMs);
        return RemoteLauncher.attach(socket, onLost, timeoutMs);
      }, warn);
  }
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

/** The isolation and limit options for the server's config (runner.mode, runner.socket, runner.agent*, runner.*Limits). */
export function runnerIsolation(
  config: ZeroplaneConfig,
): Required<Pick<AgentRunnerOptions, "isolation" | "limits">> {
  const runner = config.runner;
  return {
    isolation: {
      mode: runner.mode,
      socket: runner.socket,
      agentUid: runner.agentUid,
      agentGid: runner.agentGid,
    },
    limits: {
      defaults: {
        memoryBytes: runner.defaultMemoryBytes,
        cpuSeconds: runner.defaultCpuSeconds,
        maxProcesses: runner.defaultProcesses,
        maxOpenFiles: runner.defaultOpenFiles,
      },
      maxima: {
        memoryBytes: runner.maxMemoryBytes,
        cpuSeconds: runner.maxCpuSeconds,
        maxProcesses: runner.maxProcesses,
        maxOpenFiles: runner.maxOpenFiles,
      },
    },
  };
}
