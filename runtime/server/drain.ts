/**
 * The agent drain of a shutdown: with `server.agentDrainMs` above zero the server, already refusing
 * spawns, lets running agents end by themselves for up to that long before it stops the rest. A
 * rollout, a scale-down or a node drain then interrupts only agents that outlive the maximum.
 */
import type { AgentRunner } from "../runner/api.js";

/** What the drain needs of the runner. */
export type DrainableRunner = Pick<AgentRunner, "activeCount" | "on" | "off">;

export interface AgentDrainResult {
  /** Whether every agent ended before the maximum. */
  readonly finished: boolean;
  /** Agents still active when the wait ended (they are stopped next). */
  readonly remaining: number;
  readonly waitedMs: number;
}

/**
 * Resolves once no agent is active or `maxMs` has passed, whichever comes first. Every lifecycle
 * event re-checks the count, so the wait ends the moment the last agent does.
 */
export function waitForAgents(runner: DrainableRunner, maxMs: number): Promise<AgentDrainResult> {
  const startedAt = Date.now();
  const result = (): AgentDrainResult => {
    const remaining = runner.activeCount();
    return { finished: remaining === 0, remaining, waitedMs: Date.now() - startedAt };
  };
  if (maxMs <= 0 || runner.activeCount() === 0) return Promise.resolve(result());
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      runner.off("lifecycle", check);
      resolve(result());
    };
    const check = () => {
      if (runner.activeCount() === 0) finish();
    };
    const timer = setTimeout(finish, maxMs);
    runner.on("lifecycle", check);
  });
}

export { shutdownBudgetMs } from "../config/names.js";
