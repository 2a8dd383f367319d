/** Copies an agent's stdout and stderr to ours until the agent ends (spawn --wait, attach). */
import type { ZeroplaneClient } from "../client/index.js";
import type { OutputStream } from "../protocol/index.js";

export interface FollowTargets {
  readonly stdout: (data: Uint8Array) => void;
  readonly stderr: (data: Uint8Array) => void;
}

/** Resolves once both streams have been read to their end (the agent has ended) or `signal` aborts. */
export async function followAgentOutput(
  client: ZeroplaneClient,
  agentId: string,
  targets: FollowTargets,
  signal?: AbortSignal,
): Promise<void> {
  const copy = async (stream: OutputStream) => {
    for await (const chunk of client.follow(agentId, { stream, signal })) {
      if (chunk.data.byteLength > 0) targets[stream](chunk.data);
    }
  };
  await Promise.all([copy("stdout"), copy("stderr")]);
}

/** Our own stdout and stderr. */
export const PROCESS_OUTPUT: FollowTargets = {
  stdout: (data) => process.stdout.write(data),
  stderr: (data) => process.stderr.write(data),
};
