/**
 * An agent that ignores SIGTERM, so only SIGKILL (after a stop grace) ends it. Spawning returns as
 * soon as the process runs, before `sh` has installed its trap: a SIGTERM in that window would end
 * the agent at once. So the agent prints a line once trapped, and the helper waits for it.
 */
import type { AgentInfo } from "../../runtime/protocol/index.js";
import { WireClient } from "../runtime/server/wire-client.js";
import { waitFor } from "./wait.js";

/** Spawns the agent and resolves once it ignores SIGTERM. */
export async function spawnTermIgnoringAgent(client: WireClient): Promise<AgentInfo> {
  const agent = await client.request("spawn", {
    command: "sh",
    args: ["-c", "trap '' TERM; echo trapped; while :; do sleep 0.1; done"],
  });
  await waitFor(
    "the agent to ignore SIGTERM",
    async () =>
      Buffer.from((await client.request("output", { agentId: agent.id })).data).toString() === "trapped\n",
    10_000,
  );
  return agent;
}
