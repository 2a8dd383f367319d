/** `zeroplane logs <agent-id>`: an agent's captured output, optionally following it to the end. */
import type { Command } from "commander";
import { Option } from "commander";
import { OUTPUT_STREAMS, type OutputResult, type OutputStream } from "../../protocol/index.js";
import { action, parsePositiveInt, withClient, withClientOptions, type ClientFlags } from "../shared.js";

/** Bytes per read: the server's default reply limit. */
const READ_LIMIT = 1024 * 1024;

interface LogsFlags extends ClientFlags {
  readonly stream: OutputStream;
  readonly tail?: number;
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
      .option("-f, --follow", "keep printing new output until the agent ends (Ctrl-C to stop)"),
  ).action(
    action(async (agentId: string, flags: LogsFlags) => {
      await withClient(flags, async (client) => {
        const write = (chunk: OutputResult) => {
          if (flags.json) {
            const { data, ...rest } = chunk;
            process.stdout.write(
              `${JSON.stringify({ ...rest, data: Buffer.from(data).toString("utf8") })}\n`,
            );
          } else if (chunk.data.byteLength > 0) {
            process.stdout.write(chunk.data);
          }
        };
        // The first read: everything kept, or the tail.
        let offset: number | undefined;
        if (flags.tail !== undefined || !flags.follow) {
          let chunk = await client.output({
            agentId,
            stream: flags.stream,
            tail: flags.tail,
            limit: READ_LIMIT,
          });
          write(chunk);
          while (!flags.follow && flags.tail === undefined && chunk.data.byteLength >= READ_LIMIT) {
            // More output than one reply holds: keep reading until a reply comes back short.
            chunk = await client.output({
              agentId,
              stream: flags.stream,
              offset: chunk.nextOffset,
              limit: READ_LIMIT,
            });
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
