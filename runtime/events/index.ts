/**
 * The events service: publishes runner lifecycle events to NATS JetStream (through a crash-safe
 * on-disk spool) and, when enabled, takes commands over NATS request/reply.
 *
 * The agent server calls `startEvents` when `nats.enabled`; see docs/events.md.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { ConfigError, ENV_VARS, type ZeroplaneConfig } from "../config/index.js";
import type { LifecycleEvent, RequestHandler } from "../protocol/index.js";
import type { EventsService, EventsStatus } from "./api.js";
import { CommandIntake } from "./commands.js";
import { connectionOptions, describeAuth } from "./connection.js";
import { NatsLink, redactUrl } from "./link.js";
import { createEventsMetrics } from "./metrics.js";
import { EventPublisher } from "./publisher.js";
import { ClusterRegistry } from "./registry.js";
import { Spool } from "./spool.js";

export type { EventSink, EventsService, EventsStatus } from "./api.js";
export { METRIC_NAMES } from "./metrics.js";
export { ClusterRegistry } from "./registry.js";
export { eventFilter, eventMessageId, eventSubject, streamSubject, subjectToken } from "./subjects.js";

export interface StartEventsOptions {
  readonly config: ZeroplaneConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Validated dispatch, the same the ZeroMQ path uses; serves commands when `nats.commands`. */
  readonly handler: RequestHandler;
  /** Keep the cluster registry (nats.registry): agent records, idempotency keys, heartbeats. @default false */
  readonly cluster?: boolean;
}

/** The spool directory the config selects: `nats.spoolDir`, else `<runner.stateDir>/spool`. */
export function spoolDirectory(config: ZeroplaneConfig): string {
  return config.nats.spoolDir ?? join(config.runner.stateDir, "spool");
}

/** What the spool reports about its disk, for the metrics and the log. */
interface SpoolDiskHooks {
  onWriteError(error: NodeJS.ErrnoException): void;
  onWriteRecovered(): void;
}

function openSpool(dir: string, maxBytes: number, logger: Logger, hooks: SpoolDiskHooks): Spool {
  try {
    return new Spool({
      dir,
      maxBytes,
      onCorruption: (message) => logger.error({ spoolDir: dir }, message),
      onWriteError: (error) => hooks.onWriteError(error),
      onWriteRecovered: () => hooks.onWriteRecovered(),
    });
  } catch (error) {
    throw new ConfigError(
      `cannot open the event spool at ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}. Fix: make ${ENV_VARS["nats.spoolDir"]} (or ${ENV_VARS["runner.stateDir"]}, whose spool/ folder is the default) a writable directory, such as an emptyDir or PVC mount.`,
      "nats.spoolDir",
    );
  }
}

/**
 * Opens the spool, starts connecting to NATS in the background and returns at once.
 * Throws ConfigError for unreadable credential or TLS files and for a spool directory it cannot use.
 */
export async function startEvents(options: StartEventsOptions): Promise<EventsService> {
  const { config, registry, handler } = options;
  const nats = config.nats;
  const logger = options.logger;
  const connectOptions = connectionOptions(nats, `zeroplane-agent-server/${config.server.id}`);
  const spoolDir = spoolDirectory(config);
  // One log line per failure episode; every failed attempt is counted in the metric.
  let writeFailing = false;
  const spool = openSpool(spoolDir, nats.spoolMaxBytes, logger, {
    onWriteError(error) {
      metrics.spoolWriteFailures.inc();
      if (writeFailing) return;
      writeFailing = true;
      logger.error(
        { err: error, spoolDir, unwrittenBytes: spool.unwrittenBytes() },
        "cannot write the lifecycle event spool: events wait in memory and spawns are refused until the disk takes them again",
      );
    },
    onWriteRecovered() {
      writeFailing = false;
      logger.info({ spoolDir }, "the lifecycle event spool is writable again; spawns are accepted");
    },
  });

  let link: NatsLink | null = null;
  const metrics = createEventsMetrics(registry, {
    spoolEvents: () => spool.depthEvents(),
    spoolBytes: () => spool.depthBytes(),
    connected: () => link?.isUsable() ?? false,
    spoolUnavailable: () => publisher.diskProblem() !== null,
    spoolDiskFreeBytes: () => spool.freeDiskBytes(),
    registryReady: () => cluster?.heartbeating() ?? null,
  });
  // Records a previous run left in the spool: the registry heartbeats only once they are published.
  const startupEnd = spool.endPosition();
  const cluster = options.cluster
    ? new ClusterRegistry({
        config,
        instance: randomUUID(),
        logger: logger.child({ component: "registry" }),
        caughtUp: () => spool.committedPosition() >= startupEnd,
        claims: metrics.registryClaims,
      })
    : null;
  const publisher = new EventPublisher({
    spool,
    stream: nats.stream,
    subjectPrefix: nats.subjectPrefix,
    policy: nats.spoolFullPolicy,
    logger,
    metrics,
    ...(cluster
      ? {
          records: {
            bucket: cluster.buckets.agents,
            instance: cluster.instance,
            written: metrics.registryWrites,
          },
        }
      : {}),
  });
  let intake: CommandIntake | null = null;
  link = new NatsLink(nats, connectOptions, logger, {
    onConnected(connection) {
      if (!nats.commands) return;
      intake = new CommandIntake({
        connection,
        subjectPrefix: nats.commandSubjectPrefix,
        queueGroup: nats.queueGroup,
        serverId: config.server.id,
        handler,
        logger,
        metrics,
        maxMessageBytes: config.server.maxMessageBytes,
      });
      logger.info({ subjects: intake.subjects(), queueGroup: nats.queueGroup }, "taking commands over NATS");
    },
    ...(cluster ? { prepare: (connection) => cluster.prepare(connection) } : {}),
    onUsable: (js) => {
      cluster?.setConnected(true);
      publisher.attach(js);
    },
    onUnusable: () => {
      cluster?.setConnected(false);
      publisher.detach();
    },
  });

  logger.info(
    {
      servers: nats.urls.map(redactUrl),
      auth: describeAuth(nats),
      tls: Boolean(connectOptions.tls),
      stream: nats.stream,
      subjectPrefix: nats.subjectPrefix,
      spoolDir,
      spoolEvents: spool.depthEvents(),
      spoolMaxBytes: nats.spoolMaxBytes,
      spoolFullPolicy: nats.spoolFullPolicy,
    },
    "starting lifecycle event publisher",
  );
  link.start();

  const spawnRefusal = (): string | null => {
    const refusal = publisher.spawnRefusal();
    // The server asks once per spawn request, so each refusal is one refused spawn.
    if (refusal !== null) metrics.spawnsRefused.inc();
    return refusal;
  };

  let closing: Promise<void> | null = null;
  const activeLink = link;
  return {
    cluster,
    publish(event: LifecycleEvent): void {
      publisher.publish(event);
    },
    acceptingSpawns(): boolean {
      return spawnRefusal() === null;
    },
    spawnRefusal,
    ready(): boolean {
      return !nats.required || activeLink.isUsable();
    },
    status(): EventsStatus {
      return {
        connected: activeLink.isUsable(),
        spoolEvents: spool.depthEvents(),
        spoolBytes: spool.depthBytes(),
        spoolMaxBytes: nats.spoolMaxBytes,
        problem: activeLink.isUsable() ? null : (activeLink.currentProblem() ?? "not connected to NATS yet"),
      };
    },
    whenDrained(timeoutMs: number): Promise<boolean> {
      return publisher.whenIdle(timeoutMs);
    },
    close(deadlineMs: number): Promise<void> {
      closing ??= (async () => {
        const deadline = Date.now() + deadlineMs;
        await intake?.close(Math.max(0, Math.floor((deadline - Date.now()) / 2)));
        if (activeLink.isUsable()) await publisher.whenIdle(Math.max(0, deadline - Date.now()));
        await cluster?.close();
        if (activeLink.isUsable()) await publisher.whenIdle(Math.max(0, deadline - Date.now()));
        publisher.close();
        await activeLink.close();
        spool.close();
        metrics.remove();
        const left = spool.depthEvents();
        if (left > 0)
          logger.warn({ spoolEvents: left, spoolDir }, "events left in the spool for the next start");
      })();
      return closing;
    },
  };
}
