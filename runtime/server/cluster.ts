/**
 * The server's side of the cluster registry (runtime/events/registry.ts): exactly-once spawns per
 * idempotency key across servers and crashes, and `get`, `list`, `control` and `output` answered for
 * the whole cluster. This server's own agents are always answered by its runner (freshest); others
 * come from the registry, read as `lost` when their server instance no longer heartbeats, and control
 * is routed to the owner over NATS (nats.commands).
 */
import { randomUUID } from "node:crypto";
import type { ClusterRegistry } from "../events/registry.js";
import { idempotencyKeyName, type AgentRecordValue, type KeyClaim } from "../events/registry-keys.js";
import { ENV_VARS } from "../config/names.js";
import {
  ERROR_CODES,
  ProtocolError,
  TERMINAL_STATUSES,
  type AgentInfo,
  type ListResult,
  type OutputResult,
  type ParsedParams,
} from "../protocol/index.js";
import type { AgentRunner } from "../runner/api.js";
import { LIST_PAGE_MAX_RECORD_BYTES } from "../runner/process-runner.js";

export interface ClusterView {
  /** Starts at most one agent per idempotency key in the whole cluster; `start` runs only on a won claim. */
  spawnOnce(
    params: ParsedParams<"spawn">,
    key: string,
    start: (agentId: string) => Promise<AgentInfo>,
    onReplay: () => void,
  ): Promise<AgentInfo>;
  get(agentId: string): AgentInfo | Promise<AgentInfo>;
  list(params: ParsedParams<"list">): ListResult;
  control(params: ParsedParams<"control">): Promise<AgentInfo>;
  output(params: ParsedParams<"output">): OutputResult | Promise<OutputResult>;
}

export interface ClusterViewOptions {
  readonly registry: ClusterRegistry;
  readonly runner: AgentRunner;
  /** nats.commands: whether owners take routed requests. */
  readonly commands: boolean;
  /** How long a spawn waits for another live server's claimed spawn to be recorded. */
  readonly claimWaitMs: number;
}

/** Polling for another server's record backs off from 20 ms to 500 ms: each poll is two KV reads. */
const CLAIM_POLL_MS = 20;
const CLAIM_POLL_MAX_MS = 500;

const isNotFound = (error: unknown): boolean =>
  error instanceof ProtocolError && error.code === ERROR_CODES.NOT_FOUND;

export function createClusterView(options: ClusterViewOptions): ClusterView {
  const { registry, runner } = options;

  /** A record as clients see it: `lost` when non-terminal and its server instance is gone. */
  const view = (record: AgentRecordValue): AgentInfo => {
    const agent = record.agent;
    if (TERMINAL_STATUSES.has(agent.status)) return agent;
    return registry.isLive(agent.serverId, record.instance) ? agent : { ...agent, status: "lost" };
  };

  const requireRegistry = (what: string): void => {
    if (!registry.usable()) {
      throw new ProtocolError(ERROR_CODES.UNAVAILABLE, `${what}: ${registry.unavailableReason()}; retry`);
    }
  };

  /** The registry's record of an agent this server does not hold, or NOT_FOUND. */
  async function remote(agentId: string): Promise<AgentRecordValue> {
    requireRegistry(`agent ${agentId} is not on server ${registry.serverId}`);
    const record = await registry.record(agentId);
    if (!record) {
      throw new ProtocolError(ERROR_CODES.NOT_FOUND, `agent ${agentId} is not known to the cluster`);
    }
    return record;
  }

  /** The owner of a remote agent, for control and output: refuses lost agents and unroutable requests. */
  async function owner(agentId: string, method: string): Promise<string> {
    const record = await remote(agentId);
    const agent = view(record);
    const serverId = agent.serverId;
    if (agent.status === "lost") {
      throw new ProtocolError(
        ERROR_CODES.INVALID_STATE,
        `agent ${agentId} is lost: its server ${serverId} stopped heartbeating (last known status ${record.agent.status}); ${method} cannot reach it`,
      );
    }
    if (serverId === registry.serverId) {
      throw new ProtocolError(ERROR_CODES.NOT_FOUND, `agent ${agentId} is no longer held by this server`);
    }
    if (!options.commands) {
      throw new ProtocolError(
        ERROR_CODES.UNAVAILABLE,
        `agent ${agentId} runs on server ${serverId}; send ${method} to that server, or set ${ENV_VARS["nats.commands"]}=true so servers route it`,
        false,
      );
    }
    return serverId;
  }

  async function replayOrWait(
    name: string,
    claim: KeyClaim,
    revision: number,
    mine: KeyClaim,
    start: (agentId: string) => Promise<AgentInfo>,
  ): Promise<AgentInfo | null> {
    const record = await registry.record(claim.agentId);
    if (record) return view(record);
    if (claim.instance === registry.instance) {
      // Ours: started if the runner holds it (its record may still be in the spool), else never started.
      try {
        return runner.get(claim.agentId);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      return takeOver(name, mine, revision, start);
    }
    const beat = await registry.heartbeat(claim.serverId);
    if (beat && beat.instance === claim.instance) return null; // Still starting it: wait for its record.
    if (!beat) {
      // Its server may be restarting with the agent's record still in its spool: wait for that.
      throw new ProtocolError(
        ERROR_CODES.UNAVAILABLE,
        `a spawn with this idempotencyKey was claimed by server ${claim.serverId}, which stopped before its agent was recorded; retry once that server is back (its spool may hold the record), or after server.idempotencyWindowMs`,
      );
    }
    // A newer instance heartbeats only after publishing the old one's spool: no record, no start.
    const again = await registry.record(claim.agentId);
    if (again) return view(again);
    return takeOver(name, mine, revision, start);
  }

  async function takeOver(
    name: string,
    mine: KeyClaim,
    revision: number,
    start: (agentId: string) => Promise<AgentInfo>,
  ): Promise<AgentInfo | null> {
    const next = await registry.takeOver(name, mine, revision);
    return next === null ? null : startClaimed(name, next, mine.agentId, start);
  }

  function startClaimed(
    name: string,
    revision: number,
    agentId: string,
    start: (agentId: string) => Promise<AgentInfo>,
  ): Promise<AgentInfo> {
    return start(agentId).catch(async (error: unknown) => {
      // Refused before starting (CAPACITY, closed runner): give the key back so a retry can succeed.
      await registry.release(name, revision).catch(() => undefined);
      throw error;
    });
  }

  return {
    async spawnOnce(_params, key, start, onReplay) {
      requireRegistry(
        "a spawn with an idempotencyKey needs the cluster registry, so that no key starts two agents",
      );
      const name = idempotencyKeyName(key);
      const mine: KeyClaim = {
        serverId: registry.serverId,
        instance: registry.instance,
        agentId: randomUUID(),
        at: Date.now(),
      };
      const deadline = Date.now() + options.claimWaitMs;
      for (let pollMs = CLAIM_POLL_MS; ; pollMs = Math.min(CLAIM_POLL_MAX_MS, pollMs * 2)) {
        const claimed = await registry.claim(name, mine);
        if (claimed.won) return startClaimed(name, claimed.revision, mine.agentId, start);
        const found = await replayOrWait(name, claimed.claim, claimed.revision, mine, start);
        if (found) {
          if (found.id !== mine.agentId) onReplay();
          return found;
        }
        if (Date.now() > deadline) {
          throw new ProtocolError(
            ERROR_CODES.UNAVAILABLE,
            `a spawn with this idempotencyKey is still starting on server ${claimed.claim.serverId}; retry to get its agent`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    },

    get(agentId) {
      try {
        return runner.get(agentId);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      return remote(agentId).then(view);
    },

    list(params) {
      return clusterList(params, registry, runner, view);
    },

    async control(params) {
      try {
        return await runner.control(params);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      return registry.request(await owner(params.agentId, "control"), "control", params);
    },

    output(params) {
      try {
        return runner.output(params);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      return owner(params.agentId, "output").then((serverId) => registry.request(serverId, "output", params));
    },
  };
}

/** Every agent of the cluster: the registry's copy, overlaid with this server's own (fresher) agents. */
function clusterList(
  params: ParsedParams<"list">,
  registry: ClusterRegistry,
  runner: AgentRunner,
  view: (record: AgentRecordValue) => AgentInfo,
): ListResult {
  const all = new Map<string, AgentInfo>();
  for (const record of registry.cachedRecords()) all.set(record.agent.id, view(record));
  let cursor: string | undefined;
  do {
    const page = runner.list({ limit: 1000, cursor });
    for (const agent of page.agents) all.set(agent.id, agent);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);

  const statuses = params.status && params.status.length > 0 ? new Set(params.status) : null;
  const labels = Object.entries(params.labels ?? {});
  const after = params.cursor === undefined ? null : decodeCursor(params.cursor);
  const matching = [...all.values()]
    .filter((agent) => !statuses || statuses.has(agent.status))
    .filter((agent) => labels.every(([key, value]) => agent.labels[key] === value))
    .sort(compareAgents);
  const page: AgentInfo[] = [];
  let pageBytes = 0;
  let more = false;
  for (const agent of matching) {
    if (after && compareAgents(agent, after) <= 0) continue;
    const bytes = JSON.stringify(agent).length;
    if (page.length >= params.limit || (page.length > 0 && pageBytes + bytes > LIST_PAGE_MAX_RECORD_BYTES)) {
      more = true;
      break;
    }
    page.push(agent);
    pageBytes += bytes;
  }
  const last = page.at(-1);
  return {
    agents: page,
    nextCursor: more && last ? encodeCursor(last) : null,
    total: matching.length,
    scope: "cluster",
  };
}

type CursorPosition = Pick<AgentInfo, "createdAt" | "id">;

function compareAgents(a: CursorPosition, b: CursorPosition): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function encodeCursor(agent: CursorPosition): string {
  return Buffer.from(`cluster:${agent.createdAt}:${agent.id}`).toString("base64url");
}

function decodeCursor(cursor: string): CursorPosition {
  const match = /^cluster:(\d+):(.+)$/s.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!match) {
    throw new ProtocolError(
      ERROR_CODES.BAD_REQUEST,
      `list cursor ${JSON.stringify(cursor.slice(0, 64))} is not valid; pass nextCursor from a previous list reply`,
    );
  }
  return { createdAt: Number(match[1]), id: match[2]! };
}
