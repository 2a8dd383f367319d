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

/** Used when the server itself has no PATH. */
export const DEFAULT_AGENT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Builds the agent's environment: the safe base from `serverEnv`, overlaid with the caller's `env`. */
export function buildAgentEnv(
  env: Readonly<Record<string, string>>,
  serverEnv: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const base: Record<string, string> = { PATH: DEFAULT_AGENT_PATH, HOME: "/", LANG: "C.UTF-8" };
  for (const name of INHERITED_ENV_VARS) {
    const value = serverEnv[name];
    if (value !== undefined && value !== "") base[name] = value;
  }
  // The caller's own values are theirs to pass, so they win over the base.
  return { ...base, ...env };
}
