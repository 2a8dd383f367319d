/**
 * `spawn`'s exit code, following `docker run`: with --wait the agent's own exit code, 128+N when a
 * signal ended it; distinct codes when it could not start at all.
 */
import { constants } from "node:os";
import type { AgentInfo } from "../protocol/index.js";
import { EXIT_CODES } from "./errors.js";

/** Exit codes `spawn` adds to the common ones (see EXIT_CODES in shared.ts). */
export const SPAWN_EXIT_CODES = {
  /** --agent-timeout ended the agent (as coreutils `timeout` does). */
  timedOut: 124,
  /** The agent could not start: not executable, no such working directory, out of processes. */
  cannotStart: 126,
  /** The agent's command was not found. */
  notFound: 127,
  /** A signal ended the agent: 128 + the signal's number (143 for SIGTERM, 137 for SIGKILL). */
  signalBase: 128,
} as const;

/** The help text that lists them. */
export const SPAWN_EXIT_HELP = `
Exit codes of spawn (like docker run):
  0        the agent started (with --wait: it exited with 0)
  1-255    with --wait: the agent's own exit code
  128+N    with --wait: signal N ended the agent (137 SIGKILL, 143 SIGTERM)
  124      with --wait: --agent-timeout ended the agent
  3        with --wait: the agent is lost (its server stopped; cluster registry)
  126      the agent could not start (not executable, missing --cwd, no processes left)
  127      the agent's command was not found
  1-5      zeroplane's own failure (see zeroplane --help); with --wait use --json to tell
           them from the agent's codes`;

/** The exit code for an agent as spawn (or spawn --wait) last saw it. */
export function spawnExitCode(agent: AgentInfo, waited: boolean): number {
  if (agent.status === "failed") {
    return agent.error && /\(ENOENT\)|not found/.test(agent.error)
      ? SPAWN_EXIT_CODES.notFound
      : SPAWN_EXIT_CODES.cannotStart;
  }
  if (!waited) return 0;
  if (agent.status === "timed_out") return SPAWN_EXIT_CODES.timedOut;
  // Its server died with it: how it ended is unknown, as when no server answers.
  if (agent.status === "lost") return EXIT_CODES.unreachable;
  if (agent.exitCode !== null) return agent.exitCode;
  if (agent.signal) {
    const number = (constants.signals as Record<string, number | undefined>)[agent.signal];
    if (number !== undefined) return SPAWN_EXIT_CODES.signalBase + number;
  }
  return 0;
}
