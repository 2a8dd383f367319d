/** Sends a local stream (our stdin) to an agent's stdin in bounded writes, in order (write, attach). */
import type { Readable } from "node:stream";
import type { ZeroplaneClient } from "../client/index.js";
import { REQUEST_LIMITS } from "../protocol/index.js";

/** Bytes per write request: well under the protocol's cap (REQUEST_LIMITS.writeBytes). */
export const WRITE_CHUNK_BYTES = Math.min(256 * 1024, REQUEST_LIMITS.writeBytes);

/**
 * Copies `input` to the agent until `input` ends (then closes the agent's stdin when `end`) or `signal`
 * aborts. Resolves with the bytes sent.
 */
export async function forwardToAgent(
  client: ZeroplaneClient,
  agentId: string,
  input: Readable,
  options: { end: boolean; signal?: AbortSignal },
): Promise<number> {
  let sent = 0;
  const onAbort = () => input.destroy();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const chunk of input) {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
      for (let at = 0; at < bytes.length; at += WRITE_CHUNK_BYTES) {
        await client.write(agentId, new Uint8Array(bytes.subarray(at, at + WRITE_CHUNK_BYTES)));
      }
      sent += bytes.length;
    }
  } catch (error) {
    // Destroyed on abort: a premature close, which is how we stop.
    if (!options.signal?.aborted) throw error;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
  if (options.end && !options.signal?.aborted) await client.write(agentId, new Uint8Array(0), { end: true });
  return sent;
}
