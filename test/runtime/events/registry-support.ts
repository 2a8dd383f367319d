/**
 * Shared wiring for the cluster registry tests and benchmark: agent server processes on one NATS,
 * each addressed through its own NATS command subject (`agent.commands.<serverId>.<method>`).
 */
import { decode, encode } from "@msgpack/msgpack";
import type { NatsConnection } from "nats";
import type { ZeroplaneConfigInput } from "../../../runtime/config/index.js";
import type { Method, MethodResults, ProtocolErrorBody } from "../../../runtime/protocol/index.js";
import { startServerProcess, testServerConfig, type ServerProcess } from "../../support/server-process.js";

/** Heartbeat period in the tests: a SIGKILLed server's agents read lost within 3 of these. */
export const TEST_HEARTBEAT_MS = 300;

/** Starts an agent server process with NATS, the registry and command intake on. */
export function startClusterServer(
  serverId: string,
  urls: readonly string[],
  options: {
    readonly stateDir?: string;
    readonly registry?: boolean;
    readonly nodeArgs?: readonly string[];
  } = {},
): Promise<ServerProcess> {
  const config: ZeroplaneConfigInput = testServerConfig({
    server: { id: serverId, maxAgents: 2000 },
    runner: { stopGraceMs: 1000, ...(options.stateDir ? { stateDir: options.stateDir } : {}) },
    nats: {
      enabled: true,
      required: true,
      commands: true,
      urls: [...urls],
      reconnectWaitMs: 250,
      registry: options.registry ?? true,
      heartbeatIntervalMs: TEST_HEARTBEAT_MS,
    },
  });
  return startServerProcess({ config, ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}) });
}

/** A failed command, with the server's error body. */
export class CommandError extends Error {
  constructor(readonly body: ProtocolErrorBody) {
    super(`${body.code}: ${body.message}`);
  }
}

let requestId = 0;

/** Sends one request to one server over NATS; returns its result or throws CommandError. */
export async function command<M extends Method>(
  nc: NatsConnection,
  serverId: string,
  method: M,
  params: unknown,
  timeoutMs = 20_000,
): Promise<MethodResults[M]> {
  const body = encode({ v: 1, id: `t${++requestId}`, params });
  const reply = decode(
    (await nc.request(`agent.commands.${serverId}.${method}`, body, { timeout: timeoutMs })).data,
  ) as { ok: boolean; result?: MethodResults[M]; error?: ProtocolErrorBody };
  if (!reply.ok) throw new CommandError(reply.error!);
  return reply.result!;
}
