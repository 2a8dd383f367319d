/** Shared wiring for the events tests: configs, synthetic lifecycle events, reading the stream back. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type JetStreamManager, type NatsConnection } from "nats";
import pino from "pino";
import { Registry } from "prom-client";
import { defaultConfig, type ZeroplaneConfig } from "../../../runtime/config/index.js";
import { startEvents, type EventsService } from "../../../runtime/events/index.js";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import {
  ProtocolError,
  type AgentInfo,
  type LifecycleEvent,
  type LifecycleEventType,
  type RequestHandler,
} from "../../../runtime/protocol/index.js";
import { startNats, type NatsCluster } from "../../support/nats.js";
import { waitFor, type Ready, type WaitOptions } from "../../support/wait.js";

export const silentLogger = pino({ level: "silent" });

/** A temp state dir; remove with `cleanup`. */
export function tempDir(prefix = "zeroplane-events-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The default config with NATS on, pointed at `urls`, state under `stateDir`. */
export function eventsConfig(
  urls: string[],
  stateDir: string,
  nats: Partial<ZeroplaneConfig["nats"]> = {},
  serverId = "srv-a",
): ZeroplaneConfig {
  const config = defaultConfig();
  return {
    ...config,
    server: { ...config.server, id: serverId },
    runner: { ...config.runner, stateDir },
    nats: { ...config.nats, enabled: true, urls, reconnectWaitMs: 250, ...nats },
  };
}

/** A handler that refuses everything: for tests that only publish. */
export const refusingHandler: RequestHandler = async () => {
  throw new ProtocolError("UNAVAILABLE", "no runner in this test");
};

export function newRegistry(): Registry {
  return new Registry();
}

/** Stops what a test started: its events services, its NATS client and servers, its state dir. */
export async function tearDown(parts: {
  readonly services?: EventsService[];
  readonly client?: NatsConnection;
  readonly nats: { stop(): Promise<void> };
  readonly stateDir: string;
}): Promise<void> {
  for (const service of parts.services?.splice(0) ?? []) await service.close(1000);
  await parts.client?.close();
  await parts.nats.stop();
  cleanup(parts.stateDir);
}

/**
 * Starts the events service as a server that only publishes: quiet logs, commands refused; with
 * `cluster`, it keeps the cluster registry too.
 */
export function startPublishing(
  config: ZeroplaneConfig,
  registry = newRegistry(),
  cluster = false,
): Promise<EventsService> {
  return startEvents({ config, logger: silentLogger, registry, handler: refusingHandler, cluster });
}

/** What natsPerSuite and eventsPerTest give: a NATS, a state dir, services and a client, torn down after. */
export interface NatsSuite {
  readonly nats: NatsCluster;
  readonly stateDir: string;
  /** Services closed at teardown. */
  readonly services: EventsService[];
  /**
   * Starts a publishing events service on this NATS and state dir, closed at teardown; with
   * `cluster`, it keeps the cluster registry too.
   */
  start(
    nats?: Partial<ZeroplaneConfig["nats"]>,
    registry?: Registry,
    cluster?: boolean,
  ): Promise<EventsService>;
  /** A client of this NATS (one, closed at teardown). */
  client(): Promise<NatsConnection>;
}

/** What eventsPerTest gives each test: its NATS, state dir and services, torn down after it. */
export interface EventsTest extends NatsSuite {
  /** Every event in AGENT_EVENTS, read back through that client. */
  stored(): Promise<StoredEvent[]>;
}

/** Registers hooks that start a NATS (`start`) and state dir in `setUp` and tear them down in `cleanUp`. */
function natsFixture(
  setUp: (hook: () => Promise<void>, timeoutMs?: number) => void,
  cleanUp: (hook: () => Promise<void>) => void,
  start: () => Promise<NatsCluster>,
  startTimeoutMs?: number,
): NatsSuite {
  let nats: NatsCluster | undefined;
  let stateDir = "";
  let client: NatsConnection | undefined;
  const services: EventsService[] = [];
  setUp(async () => {
    nats = await start();
    stateDir = tempDir();
  }, startTimeoutMs);
  cleanUp(async () => {
    await tearDown({ services, client, nats: nats!, stateDir });
    client = undefined;
  });
  return {
    get nats() {
      return nats!;
    },
    get stateDir() {
      return stateDir;
    },
    services,
    async start(natsConfig, registry, cluster) {
      const service = await startPublishing(
        eventsConfig(nats!.urls, stateDir, natsConfig),
        registry,
        cluster,
      );
      services.push(service);
      return service;
    },
    async client() {
      client ??= await natsClient(nats!.urls);
      return client;
    },
  };
}

/**
 * One NATS (from `start`: a single node by default, or a cluster) and state dir shared by the tests
 * of the calling describe block, torn down after the last one (it registers the hooks).
 */
export function natsPerSuite(
  start: () => Promise<NatsCluster> = startNats,
  startTimeoutMs?: number,
): NatsSuite {
  return natsFixture(beforeAll, afterAll, start, startTimeoutMs);
}

/**
 * A fresh single-node NATS and state dir for every test of the calling describe block (it registers
 * the hooks). `afterStart` runs once NATS is up, e.g. to stop it for an outage test.
 */
export function eventsPerTest(afterStart?: (nats: NatsCluster) => Promise<void>): EventsTest {
  const fixture = natsFixture(beforeEach, afterEach, async () => {
    const nats = await startNats();
    await afterStart?.(nats);
    return nats;
  });
  return Object.assign(fixture, {
    async stored() {
      return readStream(await fixture.client(), "AGENT_EVENTS");
    },
  });
}

function agentInfo(serverId: string, agentId: string, status: AgentInfo["status"]): AgentInfo {
  return {
    id: agentId,
    serverId,
    name: null,
    command: "/bin/true",
    args: [],
    cwd: null,
    labels: {},
    status,
    pid: 4242,
    exitCode: status === "exited" ? 0 : null,
    signal: null,
    error: null,
    timeoutMs: null,
    createdAt: 1_700_000_000_000,
    startedAt: 1_700_000_000_001,
    endedAt: status === "exited" ? 1_700_000_000_002 : null,
    outputBytes: { stdout: 0, stderr: 0 },
    droppedBytes: { stdout: 0, stderr: 0 },
  };
}

const STATUS_OF: Record<LifecycleEventType, AgentInfo["status"]> = {
  spawned: "starting",
  started: "running",
  paused: "paused",
  resumed: "running",
  exited: "exited",
  failed: "failed",
  killed: "killed",
  timed_out: "timed_out",
  output_truncated: "running",
};

export function lifecycleEvent(
  serverId: string,
  agentId: string,
  seq: number,
  type: LifecycleEventType,
): LifecycleEvent {
  return {
    type,
    serverId,
    agentId,
    seq,
    time: 1_700_000_000_000 + seq,
    agent: agentInfo(serverId, agentId, STATUS_OF[type]),
  };
}

/** The three events of one agent's short life: spawned, started, exited (seq 1..3). */
export function agentLife(serverId: string, agentId: string): LifecycleEvent[] {
  return (["spawned", "started", "exited"] as const).map((type, i) =>
    lifecycleEvent(serverId, agentId, i + 1, type),
  );
}

export interface StoredEvent {
  readonly subject: string;
  readonly streamSeq: number;
  readonly msgId: string | undefined;
  readonly event: LifecycleEvent;
}

/** Every message in the stream, in stream order (direct gets by sequence, so no consumer is involved). */
export async function readStream(nc: NatsConnection, stream: string): Promise<StoredEvent[]> {
  // Right after a node is killed the client may still be reconnecting, or the stream electing a leader:
  // JetStream API requests (the manager's own account check included) time out until then.
  const jsm = await waitForNats("a JetStream manager", () => nc.jetstreamManager(), 30_000);
  const { state } = await waitForNats(`stream ${stream}'s info`, () => jsm.streams.info(stream), 30_000);
  const out: StoredEvent[] = [];
  for (let first = state.first_seq; first <= state.last_seq && state.messages > 0; first += 100) {
    const last = Math.min(state.last_seq, first + 99);
    const batch = await Promise.all(
      Array.from({ length: last - first + 1 }, (_, i) => getWithRetry(jsm, stream, first + i)),
    );
    for (const stored of batch) if (stored) out.push(stored);
  }
  return out;
}

async function getWithRetry(jsm: JetStreamManager, stream: string, seq: number): Promise<StoredEvent | null> {
  for (let attempt = 1; ; attempt++) {
    try {
      const msg = await jsm.streams.getMessage(stream, { seq });
      return {
        subject: msg.subject,
        streamSeq: msg.seq,
        msgId: msg.header.get("Nats-Msg-Id") || undefined,
        event: msg.json<LifecycleEvent>(),
      };
    } catch (error) {
      if ((error as { api_error?: { err_code?: number } }).api_error?.err_code === 10037) return null; // deleted
      if (attempt >= 10) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

export { waitFor } from "../../support/wait.js";

/** NATS may still be reconnecting while a test waits: a check that throws counts as "not yet". */
export const NATS_WAIT: WaitOptions = { intervalMs: 50, retryErrors: true };

/** waitFor with NATS_WAIT: polls often and retries errors while clients reconnect. */
export function waitForNats<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs: number,
): Promise<Ready<T>> {
  return waitFor(what, check, timeoutMs, NATS_WAIT);
}

export async function natsClient(urls: string[]): Promise<NatsConnection> {
  return connect({ servers: urls, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
}

/** Asserts each (server, agent) sequence is 1..n with no gap or repeat, in stream order. Returns counts. */
export function perAgentSequences(stored: readonly StoredEvent[]): Map<string, number[]> {
  const byAgent = new Map<string, number[]>();
  for (const { event } of stored) {
    const key = `${event.serverId}/${event.agentId}`;
    const list = byAgent.get(key) ?? [];
    list.push(event.seq);
    byAgent.set(key, list);
  }
  return byAgent;
}
