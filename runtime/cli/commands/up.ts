/**
 * `zeroplane up` and `zeroplane down`: the whole platform on this machine (a 3-node NATS JetStream
 * cluster and N agent servers with CURVE and events), in the background, with a client context.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { defaultUpDir, down, NATS_NODES, up } from "../local/platform.js";
import { action, CliError, EXIT_CODES, parsePositiveInt, printJson } from "../shared.js";

/** More servers than this on one machine is a typo, not a test bed. */
const MAX_SERVERS = 16;

interface UpFlags {
  readonly dir?: string;
  readonly servers: number;
  readonly context: string;
  readonly json?: boolean;
}

export function register(program: Command): void {
  program
    .command("up")
    .description(
      `start the whole platform here: a ${NATS_NODES}-node NATS JetStream cluster and agent servers with CURVE keys, in the background; writes a client context`,
    )
    .option("-d, --dir <dir>", `directory for keys, config, logs and state (default ${defaultUpDir()})`)
    .option("--servers <n>", `agent servers to start (1 to ${MAX_SERVERS})`, parsePositiveInt("--servers"), 2)
    .option("--context <name>", "name of the client context to write and make current", "local")
    .option("--json", "print the context and processes as JSON")
    .action(
      action(async (flags: UpFlags) => {
        if (flags.servers > MAX_SERVERS) {
          throw new CliError(
            `--servers ${flags.servers} is more than ${MAX_SERVERS}. Fix: use --servers 1 to ${MAX_SERVERS}.`,
            EXIT_CODES.usage,
          );
        }
        const dir = resolve(flags.dir ?? defaultUpDir());
        const say = (line: string) => {
          if (!flags.json) process.stderr.write(`zeroplane: ${line}\n`);
        };
        const result = await up({ dir, servers: flags.servers, contextName: flags.context, say });
        if (flags.json) {
          return printJson({
            started: result.started,
            dir,
            context: { name: result.state.context, file: result.contextsFile, ...result.context },
            processes: result.state.processes,
          });
        }
        const lines = [
          result.started
            ? `zeroplane up: running in ${dir}`
            : `zeroplane up: already running in ${dir} (since ${result.state.startedAt}); nothing started`,
          ...result.state.processes.map(
            (p) => `  ${p.name.padEnd(10)} pid ${String(p.pid).padEnd(8)} log ${p.log}`,
          ),
          `servers:  ${result.context.endpoints.join(", ")}`,
          `nats:     ${(result.context.natsUrls ?? []).join(", ")}`,
          `context:  ${result.state.context} (current) in ${result.contextsFile}`,
          `try:      zeroplane health; zeroplane spawn --wait -- echo hello; zeroplane events --no-follow`,
          `stop:     zeroplane down${flags.dir ? ` --dir ${flags.dir}` : ""}`,
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
      }),
    );

  program
    .command("down")
    .description("stop everything zeroplane up started in a directory and remove its context")
    .option("-d, --dir <dir>", `the directory given to zeroplane up (default ${defaultUpDir()})`)
    .option("--json", "print what was stopped as JSON")
    .action(
      action(async (flags: { dir?: string; json?: boolean }) => {
        const dir = resolve(flags.dir ?? defaultUpDir());
        const result = await down(dir);
        if (flags.json) return printJson({ dir, ...(result ?? { stopped: 0, killed: [], context: null }) });
        if (!result) {
          process.stdout.write(`zeroplane down: nothing runs in ${dir} (no state file there)\n`);
          return;
        }
        const forced = result.killed.length ? `; needed SIGKILL: ${result.killed.join(", ")}` : "";
        process.stdout.write(
          `zeroplane down: stopped ${result.stopped} processes in ${dir}${forced}; removed context ${result.context}. Keys and logs stay in ${dir}.\n`,
        );
      }),
    );
}
