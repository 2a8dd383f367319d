/**
 * The agent drain of a shutdown: with `server.agentDrainMs` above zero the server, already refusing
 * spawns, lets running agents end by themselves for up to that long before it stops the rest. A
 * rollout, a scale-down or a node drain then interrupts only agents that outlive the maximum.
 */
import type { Logger } from "pino";
import { shutdownBudgetMs } from "../config/names.js";
import type { AgentRunner } from "../runner/api.js";
import { withTimeout } from "./deadline.js";

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

/** The parts of a running server that a drain closes, in order. */
export interface DrainParts {
  readonly runner: Pick<AgentRunner, "activeCount" | "on" | "off" | "stopAll">;
  /** Resolves once no request is in flight. */
  readonly requestsIdle: () => Promise<void>;
  /** Resolves once every reply and stream message is handed to ZeroMQ. */
  readonly socketsDrained: () => Promise<unknown>;
  /** Closes everything, giving lifecycle events up to `sinkDeadlineMs` to reach NATS. */
  readonly closeAll: (sinkDeadlineMs: number) => Promise<void>;
  /** Flags the server draining: readiness fails and spawns get DRAINING. */
  readonly startDraining: () => void;
}

export interface DrainSettings {
  readonly shutdownGraceMs: number;
  readonly agentDrainMs: number;
  readonly stopAgentsOnShutdown: boolean;
  readonly stopGraceMs: number;
}

/**
 * The SIGTERM sequence, within shutdownBudgetMs: refuse spawns, let in-flight requests finish, let
 * agents end by themselves (agentDrainMs), stop the rest, flush the sockets, close everything.
 */
export async function drainServer(parts: DrainParts, settings: DrainSettings, logger: Logger): Promise<void> {
  const { runner } = parts;
  const deadline = Date.now() + shutdownBudgetMs(settings);
  // Keep a slice of the grace period for closing sockets and flushing events.
  const margin = Math.min(2_000, settings.shutdownGraceMs * 0.1);
  const remaining = () => Math.max(0, deadline - margin - Date.now());
  parts.startDraining();
  logger.info({ graceMs: settings.shutdownGraceMs }, "draining: refusing new spawns");
  await withTimeout(parts.requestsIdle(), remaining() / 2);
  if (settings.agentDrainMs > 0 && runner.activeCount() > 0) {
    logger.info(
      { agents: runner.activeCount(), maxMs: settings.agentDrainMs },
      "draining: waiting for agents to finish",
    );
    const drained = await waitForAgents(runner, settings.agentDrainMs);
    logger.info(drained, drained.finished ? "agents finished" : "agent drain maximum reached");
  }
  if (settings.stopAgentsOnShutdown && runner.activeCount() > 0) {
    const graceMs = Math.max(1, Math.min(settings.stopGraceMs, remaining() - 500));
    logger.info({ agents: runner.activeCount(), graceMs }, "stopping agents");
    await withTimeout(runner.stopAll(graceMs), remaining());
  }
  await withTimeout(parts.socketsDrained(), remaining());
  await parts.closeAll(Math.max(100, deadline - Date.now() - 200));
  logger.info("shutdown complete");
}
