/**
 * The agent server: a ROUTER socket for requests, a PUB socket for status and output, CURVE with a
 * ZAP allowlist, the process runner behind them, JetStream lifecycle events when NATS is enabled,
 * and the observability HTTP port. `startServer` wires these together; `shutdown` drains them.
 */
import { type Logger } from "pino";
import { Context, Publisher, Router } from "zeromq";
import { checkSecurity, ConfigError, ENV_VARS, type ZeroplaneConfig } from "../config/index.js";
import type { EventSink } from "../events/api.js";
import { createLogger } from "../observability/logger.js";
import { ServerMetrics } from "../observability/metrics.js";
import { startObservabilityServer, type ObservabilityServer } from "../observability/http.js";
import type { RequestHandler } from "../protocol/index.js";
import type { AgentRunner } from "../runner/api.js";
import { createAgentRunner, runnerIsolation } from "../runner/index.js";
import { Allowlist } from "../security/allowlist.js";
import { readSecretKey } from "../security/keys.js";
import { ZapHandler } from "../security/zap.js";
import { withTimeout } from "./deadline.js";
import { drainServer } from "./drain.js";
import { createClusterView, type ClusterView } from "./cluster.js";
import { createRequestHandler } from "./handler.js";
import { StreamPublisher } from "./stream-publisher.js";
import { RequestSocket } from "./request-socket.js";
import { ConnectionRecycler, socketTarget } from "./revocation.js";
import { FailureLog, serverSocketOptions, watchHandshakes } from "./sockets.js";

export interface AgentServer {
  /** The addresses actually bound (ephemeral ports resolved). */
  readonly endpoints: { readonly router: string; readonly publish: string; readonly http: string };
  /** Validated dispatch, shared by the ZeroMQ socket and NATS command intake. */
  readonly handler: RequestHandler;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  /** True once the sockets are bound, until draining starts (and while a required NATS is connected). */
  ready(): boolean;
  draining(): boolean;
  /**
   * The SIGTERM drain: readiness fails at once, new spawns get DRAINING, in-flight requests finish,
   * agents are stopped when server.stopAgentsOnShutdown, then everything closes, all within
   * server.shutdownGraceMs.
   */
  shutdown(): Promise<void>;
  /** Closes at once: no drain, agents are left as they are. */
  close(): Promise<void>;
}

export interface StartServerOptions {
  readonly logger?: Logger;
}

/** Runs cleanup steps in reverse order, ignoring failures (used when startup fails half way). */
class Cleanup {
  private readonly steps: Array<() => unknown> = [];
  add(step: () => unknown): void {
    this.steps.push(step);
  }
  async run(): Promise<void> {
    for (const step of this.steps.reverse()) {
      try {
        await step();
      } catch {
        // Best effort: the original startup error is the one to report.
      }
    }
  }
}

export async function startServer(
  config: ZeroplaneConfig,
  options: StartServerOptions = {},
): Promise<AgentServer> {
  const serverId = config.server.id;
  const logger = options.logger ?? createLogger({ level: config.log.level, bindings: { serverId } });
  const secretKey = config.security.curve ? readSecretKey(config) : null;
  checkSecurity(config, "server");

  const cleanup = new Cleanup();
  try {
    return await compose(config, logger, secretKey, cleanup);
  } catch (error) {
    await cleanup.run();
    throw error;
  }
}

/** Mutable server state the handler, the probes and the drain read. */
interface ServerState {
  draining: boolean;
  closed: boolean;
  sink: EventSink | null;
  cluster: ClusterView | null;
}

/** Wires the parts together; every part started registers its undo with `cleanup`. */
async function compose(
  config: ZeroplaneConfig,
  logger: Logger,
  secretKey: string | null,
  cleanup: Cleanup,
): Promise<AgentServer> {
  const startedAt = Date.now();
  const metrics = new ServerMetrics();
  const allowlist = secretKey
    ? new Allowlist(config.security.allowlistFile!, { logger: logger.child({ component: "allowlist" }) })
    : null;
  if (allowlist) cleanup.add(() => allowlist.close());
  const runner = await startRunner(config, metrics, logger, cleanup);

  // A context of our own: the ZAP handler then governs exactly these sockets.
  const context = new Context();
  // Metrics count every failure; the log gets at most one line per kind per interval.
  const failures = new FailureLog(logger);
  const zap = allowlist ? await startZap(context, allowlist, metrics, failures, logger, cleanup) : null;
  const sockets = await openSockets(config, context, secretKey, metrics, failures, cleanup);

  const state: ServerState = { draining: false, closed: false, sink: null, cluster: null };
  const ready = () => !state.draining && (!config.nats.required || state.sink === null || state.sink.ready());
  const handler = createRequestHandler({
    runner,
    metrics,
    idempotencyWindowMs: config.server.idempotencyWindowMs,
    requestTimeoutMs: config.server.requestTimeoutMs,
    state: {
      serverId: config.server.id,
      maxAgents: config.server.maxAgents,
      startedAt,
      draining: () => state.draining,
      ready,
      sink: () => state.sink,
    },
    cluster: () => state.cluster,
  });
  if (config.nats.enabled) await startNats(config, logger, metrics, handler.handle, runner, state, cleanup);

  const publisher = new StreamPublisher(sockets.pub, metrics, logger, config.server.publishHighWaterMark);
  const onLifecycle = (event: Parameters<EventSink["publish"]>[0]) => state.sink?.publish(event);
  runner.on("lifecycle", onLifecycle);
  runner.on("stream", (event) => publisher.publish(event));
  const requests = new RequestSocket(
    sockets.router,
    handler.invoke,
    metrics,
    logger,
    config.server.maxMessageBytes,
    config.server.sendHighWaterMark,
  );
  requests.start();

  // ZAP vets a client only at the handshake: a reload that removes keys closes every connection.
  const recycler = new ConnectionRecycler({
    targets: [
      socketTarget(sockets.router.lastEndpoint ?? config.server.bind, requests, sockets.newRouter),
      socketTarget(sockets.pub.lastEndpoint ?? config.server.publishBind, publisher, sockets.newPublisher),
    ],
    settled: () => requests.settled(),
    settleTimeoutMs: config.server.requestTimeoutMs,
    metrics,
    logger: logger.child({ component: "revocation" }),
  });
  const stopWatchingAllowlist = allowlist?.onChange(recycler.onAllowlistChange);

  const http = await startHttp(config, metrics, state, () => recycler.bound(), ready, cleanup);
  const endpoints = {
    router: sockets.router.lastEndpoint ?? config.server.bind,
    publish: sockets.pub.lastEndpoint ?? config.server.publishBind,
    http: http.url,
  };

  const closeAll = async (sinkDeadlineMs: number) => {
    if (state.closed) return;
    state.closed = true;
    stopWatchingAllowlist?.();
    await recycler.close();
    await requests.closeSocket();
    await publisher.closeSocket();
    await Promise.allSettled([
      state.sink?.close(sinkDeadlineMs),
      zap?.close(),
      http.close(),
      // The runner waits for its watchdog to exit; a timer keeps the event loop alive meanwhile.
      withTimeout(runner.close(), 5_000),
    ]);
    runner.off("lifecycle", onLifecycle);
    allowlist?.close();
  };
  let shuttingDown: Promise<void> | null = null;
  const shutdown = () =>
    (shuttingDown ??= drainServer(
      {
        runner,
        requestsIdle: () => handler.idle(),
        socketsDrained: () => Promise.all([requests.drained(), publisher.drained()]),
        closeAll,
        startDraining: () => (state.draining = true),
      },
      { ...config.server, stopGraceMs: config.runner.stopGraceMs },
      logger,
    ));

  logger.info(
    { endpoints, curve: Boolean(secretKey), nats: config.nats.enabled },
    "zeroplane server listening",
  );
  return {
    endpoints,
    handler: handler.handle,
    metrics,
    logger,
    ready: () => !state.closed && ready(),
    draining: () => state.draining,
    shutdown,
    close: () => closeAll(1_000),
  };
}

/** The process runner (its launcher per runner.mode), with the memory budget logged. */
async function startRunner(
  config: ZeroplaneConfig,
  metrics: ServerMetrics,
  logger: Logger,
  cleanup: Cleanup,
): Promise<AgentRunner> {
  const runner = await createAgentRunner({
    serverId: config.server.id,
    maxAgents: config.server.maxAgents,
    outputCapBytes: config.runner.outputCapBytes,
    retentionMs: config.runner.retentionMs,
    memoryBudgetBytes: config.runner.memoryBudgetBytes,
    stopGraceMs: config.runner.stopGraceMs,
    stateDir: config.runner.stateDir,
    ...runnerIsolation(config),
  });
  cleanup.add(() => runner.close());
  metrics.attachAgents(runner);
  const budget = runner.memoryBudget();
  logger.info(
    { memoryBudgetBytes: budget.limitBytes, derivedFrom: budget.source },
    "memory budget for retained agent output and records",
  );
  return runner;
}

/** The ZAP handler that checks each client key against the allowlist at the CURVE handshake. */
async function startZap(
  context: Context,
  allowlist: Allowlist,
  metrics: ServerMetrics,
  failures: FailureLog,
  logger: Logger,
  cleanup: Cleanup,
): Promise<ZapHandler> {
  const zap = new ZapHandler(
    context,
    allowlist,
    (rejection) => {
      metrics.recordAuthRejection(rejection.reason);
      failures.record(
        "warn",
        `zap:${rejection.reason}`,
        { reason: rejection.reason, clientFingerprint: rejection.fingerprint, peer: rejection.address },
        "client refused by ZAP",
      );
    },
    (error) => logger.error({ err: error.message }, "ZAP handler error"),
  );
  await zap.start();
  cleanup.add(() => zap.close());
  return zap;
}

/** The bound ROUTER and PUB sockets, and factories for fresh ones (a key revocation replaces them). */
async function openSockets(
  config: ZeroplaneConfig,
  context: Context,
  secretKey: string | null,
  metrics: ServerMetrics,
  failures: FailureLog,
  cleanup: Cleanup,
) {
  const onHandshakeFailure = (reason: string, peer: string) => {
    metrics.recordHandshakeFailure(reason);
    failures.record("info", `handshake:${reason}`, { reason, peer }, "client handshake failed");
  };
  const newRouter = () =>
    watchHandshakes(
      new Router(serverSocketOptions(config, context, secretKey, "router")),
      onHandshakeFailure,
    );
  const newPublisher = () =>
    watchHandshakes(
      new Publisher(serverSocketOptions(config, context, secretKey, "publisher")),
      onHandshakeFailure,
    );
  const router = newRouter();
  const pub = newPublisher();
  cleanup.add(() => router.close());
  cleanup.add(() => pub.close());
  await bindSocket(router, config.server.bind, ENV_VARS["server.bind"]);
  await bindSocket(pub, config.server.publishBind, ENV_VARS["server.publishBind"]);
  return { router, pub, newRouter, newPublisher };
}

/** JetStream events, NATS command intake and, with nats.registry, the cluster view over the registry. */
async function startNats(
  config: ZeroplaneConfig,
  logger: Logger,
  metrics: ServerMetrics,
  handle: RequestHandler,
  runner: AgentRunner,
  state: ServerState,
  cleanup: Cleanup,
): Promise<void> {
  // Loaded only when enabled, so servers without NATS never touch the NATS client.
  const { startEvents } = await import("../events/index.js");
  const started = await startEvents({
    config,
    logger: logger.child({ component: "events" }),
    registry: metrics.registry,
    handler: handle,
    cluster: config.nats.registry,
  });
  state.sink = started;
  if (started.cluster) {
    state.cluster = createClusterView({
      registry: started.cluster,
      runner,
      commands: config.nats.commands,
      claimWaitMs: config.server.requestTimeoutMs,
    });
  }
  cleanup.add(() => started.close(1_000));
}

/** The observability HTTP port: /metrics, /healthz and /readyz with the reason it is not ready. */
async function startHttp(
  config: ZeroplaneConfig,
  metrics: ServerMetrics,
  state: ServerState,
  socketsBound: () => boolean,
  ready: () => boolean,
  cleanup: Cleanup,
): Promise<ObservabilityServer> {
  const http = await startObservabilityServer({
    host: config.http.host,
    port: config.http.port,
    registry: metrics.registry,
    probes: {
      alive: () => !state.closed,
      ready: () => {
        if (state.closed) return { ready: false, reason: "closed" };
        if (state.draining) return { ready: false, reason: "draining" };
        if (!socketsBound()) return { ready: false, reason: "binding fresh sockets after a key revocation" };
        if (!ready()) return { ready: false, reason: "NATS is required and not connected" };
        return { ready: true };
      },
    },
  }).catch((error: Error) => {
    throw new ConfigError(
      `cannot listen on http://${config.http.host}:${config.http.port} (${ENV_VARS["http.host"]}, ${ENV_VARS["http.port"]}): ${error.message}. Fix: choose a free port.`,
      "http.port",
    );
  });
  cleanup.add(() => http.close());
  return http;
}

async function bindSocket(socket: Router | Publisher, endpoint: string, envName: string): Promise<void> {
  try {
    await socket.bind(endpoint);
  } catch (error) {
    throw new ConfigError(
      `cannot bind ${endpoint} (${envName}): ${(error as Error).message}. Fix: choose a free address or port.`,
      envName,
    );
  }
}
