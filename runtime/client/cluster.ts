/**
 * Cluster routing: which server a call goes to. Holds the client's servers (one ServerConnection
 * each, and those retiring after DNS dropped them), what it learned from replies (which server owns
 * which agent, each server's load) and the placement of new agents; merges list pages across servers.
 * Retries, deadlines and fan-out live in the client (client.ts).
 */
import type {
  AgentInfo,
  BatchControlResult,
  HealthResult,
  ListResult,
  Method,
  StatsResult,
} from "../protocol/index.js";
import { sleep } from "./backoff.js";
import { ServerConnection, type ConnectionOptions } from "./connection.js";
import type { ServerAddress } from "./endpoints.js";
import { ClientUsageError, RequestTimeoutError, UnreachableError } from "./errors.js";
import { Placement, PLACEMENT_STRATEGIES, type PlacementStrategy } from "./placement.js";

/** What a route knows about the call's previous attempt. */
export interface RouteContext {
  readonly lastError: unknown;
  readonly lastConnection: ServerConnection | null;
  readonly deadline: number;
}
/** Picks the connection for one attempt of a call. */
export type Route = (context: RouteContext) => ServerConnection | Promise<ServerConnection>;

interface LoadInfo {
  activeAgents: number;
  maxAgents: number;
  placedSince: number;
}

const MAX_REMEMBERED_AGENTS = 100_000;

export class ServerCluster {
  private readonly placement: Placement;
  private readonly connections = new Map<string, ServerConnection>();
  private readonly retiring = new Set<ServerConnection>();
  private readonly loads = new Map<ServerConnection, LoadInfo>();
  private readonly healthInFlight = new Set<ServerConnection>();
  private readonly agentOwners = new Map<string, string>();
  private readonly serversById = new Map<string, ServerConnection>();

  constructor(
    strategy: PlacementStrategy,
    private readonly connectionOptions: ConnectionOptions,
    /** A new server's PUB endpoint, for the event stream. */
    private readonly onAdded: (connection: ServerConnection) => void,
    /** A server DNS no longer lists, before it retires. */
    private readonly onRetired: (connection: ServerConnection) => void,
  ) {
    if (!PLACEMENT_STRATEGIES.includes(strategy)) {
      throw new ClientUsageError(
        `unknown placement strategy "${strategy}". Fix: use one of ${PLACEMENT_STRATEGIES.join(", ")}.`,
      );
    }
    this.placement = new Placement(strategy);
  }

  /** The current servers (not those retiring). */
  live(): ServerConnection[] {
    return [...this.connections.values()];
  }

  byEndpoint(endpoint: string): ServerConnection | undefined {
    return this.connections.get(endpoint);
  }

  /** Servers to connect to: new addresses get connections, vanished ones retire once idle. */
  update(addresses: readonly ServerAddress[]): void {
    const wanted = new Set(addresses.map((a) => a.endpoint));
    for (const address of addresses) if (!this.connections.has(address.endpoint)) this.add(address);
    for (const [endpoint, connection] of this.connections) {
      if (wanted.has(endpoint)) continue;
      this.connections.delete(endpoint);
      this.loads.delete(connection);
      this.onRetired(connection);
      this.retiring.add(connection);
    }
  }

  private add(address: ServerAddress): void {
    const connection = new ServerConnection(address, this.connectionOptions);
    this.connections.set(address.endpoint, connection);
    this.onAdded(connection);
  }

  /** The server that owns an agent, if a reply said so and it is still one of ours. */
  knownOwner(agentId: string): ServerConnection | undefined {
    const known = this.serversById.get(this.agentOwners.get(agentId) ?? "");
    return known && !known.isClosed && !this.retiring.has(known) ? known : undefined;
  }

  /**
   * Spawn routing. After a timeout on a connection that is still up, the retry goes to the same
   * server: it may have started the agent, and the idempotency key makes it answer with that agent.
   * Otherwise (not delivered, refused with a retryable error, or the server went away) any server will do.
   */
  async spawnTarget(
    context: RouteContext,
    connectWaitMs: number,
    isClosed: () => boolean,
  ): Promise<ServerConnection> {
    const { lastError, lastConnection } = context;
    if (
      lastConnection &&
      lastError instanceof RequestTimeoutError &&
      !lastError.connectionLost &&
      !lastConnection.isClosed
    ) {
      return lastConnection;
    }
    const avoid = lastError ? lastConnection : null;
    const usable = () => this.live().filter((c) => c.breaker.canPass());
    const connected = (list: ServerConnection[]) => list.filter((c) => c.connected);
    let candidates = connected(usable());
    if (candidates.length === 0) {
      // Nothing connected yet (a new client, or every server restarting): give connections a moment.
      const waitUntil = Math.min(context.deadline, Date.now() + connectWaitMs);
      while (candidates.length === 0 && Date.now() < waitUntil && !isClosed()) {
        await sleep(20);
        candidates = connected(usable());
      }
    }
    if (candidates.length === 0) candidates = usable().filter((c) => !c.down);
    if (candidates.length === 0) candidates = usable();
    if (candidates.length > 1 && avoid) candidates = candidates.filter((c) => c !== avoid);
    if (candidates.length === 0) {
      throw new UnreachableError(
        `no server can take the spawn: all ${this.live().length} are failing (circuits open). Fix: check that the servers are running and reachable.`,
      );
    }
    const chosen = this.placement.choose(
      candidates.map((connection) => ({
        endpoint: connection.endpoint,
        load: this.loadOf(connection),
        connection,
      })),
    ).connection;
    const load = this.loads.get(chosen);
    if (load) load.placedSince += 1;
    return chosen;
  }

  /** For health and stats: a connected server first, another one after a failed attempt. */
  readonly anyServer: Route = ({ lastConnection, lastError }) => {
    const live = this.live();
    const ordered = [...live.filter((c) => c.connected), ...live.filter((c) => !c.connected)];
    return ordered.find((c) => !(lastError && c === lastConnection)) ?? ordered[0]!;
  };

  /** Remembers what a reply tells about the cluster: agents' owners, server ids, load. */
  learn(connection: ServerConnection, method: Method, result: unknown): void {
    const remember = (agent: AgentInfo | undefined) => {
      if (!agent?.id || !agent.serverId) return;
      this.rememberServer(connection, agent.serverId);
      this.agentOwners.delete(agent.id);
      this.agentOwners.set(agent.id, agent.serverId);
      if (this.agentOwners.size > MAX_REMEMBERED_AGENTS) {
        this.agentOwners.delete(this.agentOwners.keys().next().value!);
      }
    };
    switch (method) {
      case "spawn":
      case "control":
      case "get":
        remember(result as AgentInfo);
        break;
      case "list":
        for (const agent of (result as ListResult).agents) remember(agent);
        break;
      case "batchControl":
        for (const entry of (result as BatchControlResult).results) remember(entry.agent);
        break;
      case "health": {
        const health = result as HealthResult;
        this.rememberServer(connection, health.serverId);
        this.loads.set(connection, {
          activeAgents: health.activeAgents,
          maxAgents: health.maxAgents,
          placedSince: 0,
        });
        break;
      }
      case "stats":
        this.rememberServer(connection, (result as StatsResult).serverId);
        break;
      default:
        break;
    }
  }

  private rememberServer(connection: ServerConnection, serverId: string): void {
    if (!serverId) return;
    connection.serverId = serverId;
    this.serversById.set(serverId, connection);
  }

  /** Active agents / max agents at the last health check, with spawns placed since; null before one. */
  loadOf(connection: ServerConnection): number | null {
    const load = this.loads.get(connection);
    if (!load || load.maxAgents <= 0) return null;
    return (load.activeAgents + load.placedSince) / load.maxAgents;
  }

  /** Health of every server, for placement by load; also the circuit breakers' half-open probe. */
  refreshHealth(timeoutMs: number): void {
    for (const connection of this.live()) {
      if (this.healthInFlight.has(connection) || !connection.breaker.canPass()) continue;
      this.healthInFlight.add(connection);
      connection
        .request("health", {}, timeoutMs, { failFastWhenDown: true })
        .then((result) => this.learn(connection, "health", result))
        .catch(() => undefined)
        .finally(() => this.healthInFlight.delete(connection));
    }
    for (const connection of this.retiring) {
      if (connection.inFlight === 0) {
        connection.close();
        this.retiring.delete(connection);
      }
    }
  }

  close(): void {
    for (const connection of [...this.connections.values(), ...this.retiring]) connection.close();
  }
}

const CLUSTER_CURSOR_PREFIX = "zpc1.";

/** One page from each server, as one page: agents oldest first, one cursor that continues every server. */
export function mergeListPages(
  pages: ReadonlyArray<{ readonly endpoint: string; readonly result: ListResult }>,
): ListResult {
  const next: Record<string, string> = {};
  const agents: AgentInfo[] = [];
  let total = 0;
  for (const { endpoint, result } of pages) {
    agents.push(...result.agents);
    total += result.total;
    if (result.nextCursor) next[endpoint] = result.nextCursor;
  }
  agents.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  return { agents, total, nextCursor: Object.keys(next).length ? encodeClusterCursor(next) : null };
}

function encodeClusterCursor(cursors: Record<string, string>): string {
  return CLUSTER_CURSOR_PREFIX + Buffer.from(JSON.stringify(cursors)).toString("base64url");
}

/** Each server's cursor from a cursor mergeListPages made. */
export function decodeClusterCursor(cursor: string): Record<string, string> {
  if (!cursor.startsWith(CLUSTER_CURSOR_PREFIX)) {
    throw new ClientUsageError(
      `cursor "${cursor}" does not come from this client's list across several servers. Fix: pass nextCursor from the previous page unchanged.`,
    );
  }
  try {
    return JSON.parse(
      Buffer.from(cursor.slice(CLUSTER_CURSOR_PREFIX.length), "base64url").toString(),
    ) as Record<string, string>;
  } catch {
    throw new ClientUsageError(
      `cursor "${cursor}" is damaged. Fix: pass nextCursor from the previous page unchanged.`,
    );
  }
}
