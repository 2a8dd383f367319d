/**
 * `zeroplane write <agent-id>`: sends our stdin (or --data) to an agent's stdin; `attach`: follows an
 * agent's output and forwards our stdin to it until the agent ends.
 */
import type { Command } from "commander";
import { spawnExitCode } from "../agent-exit.js";
import { describeEnd } from "../agents-format.js";
import { followAgentOutput, PROCESS_OUTPUT } from "../follow-output.js";
import { action, printJson, withClient, withClientOptions, type ClientFlags } from "../shared.js";
import { forwardToAgent } from "../stdin-forward.js";

interface WriteFlags extends ClientFlags {
  readonly data?: string;
  readonly end?: boolean;
}

export function register(program: Command): void {
  withClientOptions(
    program
      .command("write")
      .description("send our stdin (or --data) to an agent's stdin")
      .argument("<agent-id>", "the agent's id")
      .option("--data <text>", "send this text instead of reading stdin")
      .option("--end", "close the agent's stdin afterwards (it then reads end-of-file)"),
  ).action(
    action(async (agentId: string, flags: WriteFlags) => {
      await withClient(flags, async (client) => {
        const end = Boolean(flags.end);
        let sent: number;
        if (flags.data !== undefined) {
          await client.write(agentId, flags.data, { end });
          sent = Buffer.byteLength(flags.data);
        } else {
          sent = await forwardToAgent(client, agentId, process.stdin, { end });
        }
        if (flags.json) printJson({ agentId, bytes: sent, ended: end });
        else
          process.stderr.write(
            `zeroplane: wrote ${sent} bytes to ${agentId}${end ? " and closed its stdin" : ""}\n`,
          );
      });
    }),
  );

  withClientOptions(
    program
      .command("attach")
      .description(
        "print an agent's output and send it our stdin until it ends; exits with its code (Ctrl-C detaches)",
      )
      .argument("<agent-id>", "the agent's id")
      .option("--no-stdin", "only print the output; do not forward stdin")
      .option("--keep-stdin-open", "leave the agent's stdin open when our stdin ends"),
  ).action(
    action(async (agentId: string, flags: ClientFlags & { stdin: boolean; keepStdinOpen?: boolean }) => {
      return withClient(flags, async (client) => {
        const detach = new AbortController();
        const onSignal = () => detach.abort();
        process.once("SIGINT", onSignal);
        const stopInput = new AbortController();
        try {
          const input = flags.stdin
            ? forwardToAgent(client, agentId, process.stdin, {
                end: !flags.keepStdinOpen,
                signal: stopInput.signal,
              }).catch((error: Error) => {
                // The agent may close its stdin or end first: its output still matters more.
                process.stderr.write(`zeroplane: stdin not forwarded: ${error.message}\n`);
              })
            : Promise.resolve();
          await followAgentOutput(client, agentId, PROCESS_OUTPUT, detach.signal);
          stopInput.abort();
          await input;
          if (detach.signal.aborted) {
            process.stderr.write(`zeroplane: detached from ${agentId}; it keeps running\n`);
            return 0;
          }
          const agent = await client.get(agentId);
          if (flags.json) printJson(agent);
          else process.stderr.write(`zeroplane: ${describeEnd(agent)}\n`);
          return spawnExitCode(agent, true);
        } finally {
          process.off("SIGINT", onSignal);
        }
      });
    }),
  );
}
