/**
 * `zeroplane logs <agent-id>`: an agent's captured output, optionally following it to the end,
 * from a time (`--since`) and with each line's write time (`--timestamps`).
 */
import type { Command } from "commander";
import { Option } from "commander";
import { OUTPUT_STREAMS, type OutputResult, type OutputStream } from "../../protocol/index.js";
import { LineStamper } from "../line-times.js";
import {
  action,
  CliError,
  EXIT_CODES,
  parsePositiveInt,
  withClient,
  withClientOptions,
  type ClientFlags,
} from "../shared.js";
import { parseSince } from "../since.js";

/** Bytes per read: the server's default reply limit. */
const READ_LIMIT = 1024 * 1024;

interface LogsFlags extends ClientFlags {
  readonly stream: OutputStream;
  readonly tail?: number;
  readonly since?: string;
  readonly timestamps?: boolean;
  readonly follow?: boolean;
}

export function register(program: Command): void {
  withClientOptions(
    program
      .command("logs")
      .description("print an agent's output")
      .argument("<agent-id>", "the agent's id")
      .addOption(
        new Option("--stream <stream>", "which stream").choices([...OUTPUT_STREAMS]).default("stdout"),
      )
      .option("--tail <bytes>", "start with the last N bytes", parsePositiveInt("--tail"))
      .option(
        "--since <when>",
        "start with what was written since then: a duration ago (30s, 5m, 2h, 1d) or an RFC 3339 time",
      )
      .option("--timestamps", "put the time each line was written (UTC, RFC 3339) in front of it")
      .option("-f, --follow", "keep printing new output until the agent ends (Ctrl-C to stop)"),
  ).action(
    action(async (agentId: string, flags: LogsFlags) => {
      if (flags.tail !== undefined && flags.since !== undefined) {
        throw new CliError(
          "--tail and --since both say where to start. Fix: give only one.",
          EXIT_CODES.usage,
        );
      }
      const sinceMs = flags.since === undefined ? undefined : parseSince(flags.since);
      const times = Boolean(flags.timestamps);
      const stamper = new LineStamper();
      await withClient(flags, async (client) => {
        const write = (chunk: OutputResult) => {
          if (flags.json) {
            const { data, ...rest } = chunk;
            process.stdout.write(
              `${JSON.stringify({ ...rest, data: Buffer.from(data).toString("utf8") })}\n`,
            );
          } else if (chunk.data.byteLength > 0) {
            process.stdout.write(times ? stamper.stamp(chunk) : chunk.data);
          }
        };
        const read = { agentId, stream: flags.stream, limit: READ_LIMIT, times };
        // The first read: everything kept, the tail, or what was written since a time.
        let offset: number | undefined;
        if (flags.tail !== undefined || sinceMs !== undefined || !flags.follow) {
          let chunk = await client.output({ ...read, tail: flags.tail, sinceMs });
          write(chunk);
          while (!flags.follow && flags.tail === undefined && chunk.data.byteLength >= READ_LIMIT) {
            // More output than one reply holds: keep reading until a reply comes back short.
            chunk = await client.output({ ...read, offset: chunk.nextOffset });
            if (chunk.data.byteLength > 0) write(chunk);
          }
          offset = chunk.nextOffset;
        }
        if (!flags.follow) return;
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once("SIGINT", onSignal);
        try {
          for await (const chunk of client.follow(agentId, {
            stream: flags.stream,
            offset,
            signal: stop.signal,
            times,
          })) {
            write(chunk);
          }
        } finally {
          process.off("SIGINT", onSignal);
        }
      });
    }),
  );
}
