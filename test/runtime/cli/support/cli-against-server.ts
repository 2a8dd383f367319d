/** One real server for a CLI test file, and `zeroplane <command>` pointed at it. */
import { afterAll, beforeAll } from "vitest";
import { ServerPool, serverSpecs, type TestServerSpec } from "../../client/support/servers.js";
import { runCli, type CliResult } from "./run-cli.js";

export interface CliAgainstServer {
  /** The running server (started in `beforeAll`). */
  spec(): TestServerSpec;
  /** Runs `zeroplane <command> <connection flags> <args...>` against the server. */
  zeroplane(command: string, ...args: string[]): Promise<CliResult>;
  /** The same, with `stdin` as the command's standard input. */
  zeroplaneWithStdin(stdin: string, command: string, ...args: string[]): Promise<CliResult>;
}

/** Starts one real server in `beforeAll` and disposes of it in `afterAll` of the calling block. */
export function useCliAgainstServer(): CliAgainstServer {
  const pool = new ServerPool();
  let server: TestServerSpec | undefined;
  beforeAll(async () => {
    const [spec] = (await serverSpecs(1)) as [TestServerSpec];
    await pool.start(spec);
    server = spec;
  });
  afterAll(() => pool.disposeAll());

  const spec = (): TestServerSpec => {
    if (!server) throw new Error("the test server starts in beforeAll; use it only inside tests");
    return server;
  };
  const run = (stdin: string | undefined, command: string, args: string[]) => {
    const { endpoint, publishEndpoint } = spec();
    // Connection flags go right after the command name, before any `--` that starts an agent's command line.
    return runCli([command, "--endpoint", endpoint, "--publish-endpoint", publishEndpoint, ...args], {
      stdin,
    });
  };
  return {
    spec,
    zeroplane: (command, ...args) => run(undefined, command, args),
    zeroplaneWithStdin: (stdin, command, ...args) => run(stdin, command, args),
  };
}
