/** The CLI's exit codes and its error type, shared by every command (and by contexts.ts). */

/** Exit codes scripts can rely on. Documented in docs/client.md. */
export const EXIT_CODES = {
  ok: 0,
  /** The server answered with an error (for batch: at least one agent failed; for health: a server is unhealthy). */
  serverError: 1,
  /** Bad flags, arguments or configuration. */
  usage: 2,
  /** No server could be reached, or no reply came in time. */
  unreachable: 3,
  /** CURVE authentication failed. */
  auth: 4,
  /** A local file could not be read or written (or keygen refused to overwrite). */
  localFile: 5,
} as const;

/** The exit codes, for every command's --help. */
export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  the server answered with an error (batch or several ids: an agent failed; health: a server is unhealthy)
  2  usage: bad flags, arguments, endpoint, key file or configuration
  3  no server reachable (connection refused for 3 s), or no reply within --timeout
  4  CURVE authentication failed
  5  a local file could not be read or written, or keygen refused to replace a key`;

/** An error that knows its exit code (for failures that are not client errors). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = "CliError";
  }
}
