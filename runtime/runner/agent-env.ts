/**
 * The environment an agent starts with: a short allowlist copied from the server, then the caller's env.
 *
 * An allowlist (not a denylist) so that no server secret, such as ZEROPLANE_SECURITY_SECRET_KEY,
 * NATS credentials or cloud tokens, is handed to an agent by accident. Agents share the server's uid,
 * so this is not a sandbox: see "Trust boundary" in docs/runner.md.
 */

/** Server variables an agent may inherit. Nothing else is copied. */
export const INHERITED_ENV_VARS = [
  "PATH",
  "HOME",
  "LANG",
  "LC_ALL",
  "TZ",
  "TMPDIR",
  "USER",
  "LOGNAME",
] as const;

/**
 * Set in every agent's environment to the id of the runner instance that started it (random per
 * runner start). Inherited by the agent's descendants, it lets the watchdog and a restarted server
 * find agents that no registration names yet (forked in the instant before a crash). See
 * "No orphans" in docs/runner.md. Deliberately not a ZEROPLANE_* name: agents get none of those.
 */
export const RUNNER_INSTANCE_ENV_VAR = "AGENT_RUNNER_INSTANCE";

/** Used when the server itself has no PATH. */
export const DEFAULT_AGENT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Builds the agent's environment: the safe base from `serverEnv`, overlaid with the caller's `env`,
 * then the runner's instance marker (when given), which the caller cannot override.
 */
export function buildAgentEnv(
  env: Readonly<Record<string, string>>,
  serverEnv: NodeJS.ProcessEnv = process.env,
  runnerInstance?: string,
): Record<string, string> {
  const base: Record<string, string> = { PATH: DEFAULT_AGENT_PATH, HOME: "/", LANG: "C.UTF-8" };
  for (const name of INHERITED_ENV_VARS) {
    const value = serverEnv[name];
    if (value !== undefined && value !== "") base[name] = value;
  }
  // The caller's own values are theirs to pass, so they win over the base; the marker wins over
  // both, or a caller could hide an agent from the orphan sweep.
  const agentEnv = { ...base, ...env };
  if (runnerInstance !== undefined) agentEnv[RUNNER_INSTANCE_ENV_VAR] = runnerInstance;
  return agentEnv;
}
