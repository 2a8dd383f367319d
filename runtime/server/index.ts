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
import { shutdownBudgetMs, waitForAgents } from "./drain.js";
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
    const startedAt = Date.now();
    const metrics = new ServerMetrics();
    const allowlist = secretKey
      ? new Allowlist(config.security.allowlistFile!, { logger: logger.child({ component: "allowlist" }) })
      : null;
    if (allowlist) cleanup.add(() => allowlist.close());

    const runner: AgentRunner = await createAgentRunner({
      serverId,
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

    // A context of our own: the ZAP handler then governs exactly these sockets.
    const context = new Context();
    let zap: ZapHandler | null = null;
    // Metrics count every failure; the log gets at most one line per kind per interval.
    const failures = new FailureLog(logger);
    if (allowlist) {
      const zapHandler = new ZapHandler(
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
      zap = zapHandler;
      await zapHandler.start();
      cleanup.add(() => zapHandler.close());
    }

    const onHandshakeFailure = (reason: string, peer: string) => {
      metrics.recordHandshakeFailure(reason);
      failures.record("info", `handshake:${reason}`, { reason, peer }, "client handshake failed");
    };
    // Factories, because a key revocation replaces the sockets with fresh ones (see revocation.ts).
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

    let draining = false;
    let sink: EventSink | null = null;
    let cluster: ClusterView | null = null;
    const ready = () => !draining && (!config.nats.required || sink === null || sink.ready());
    const handler = createRequestHandler({
      runner,
      metrics,
      idempotencyWindowMs: config.server.idempotencyWindowMs,
      requestTimeoutMs: config.server.requestTimeoutMs,
      state: {
        serverId,
        maxAgents: config.server.maxAgents,
        startedAt,
        draining: () => draining,
        ready,
        sink: () => sink,
      },
      cluster: () => cluster,
    });

    if (config.nats.enabled) {
      // Loaded only when enabled, so servers without NATS never touch the NATS client.
      const { startEvents } = await import("../events/index.js");
      const started = await startEvents({
        config,
        logger: logger.child({ component: "events" }),
        registry: metrics.registry,
        handler: handler.handle,
        cluster: config.nats.registry,
      });
      sink = started;
      if (started.cluster) {
        cluster = createClusterView({
          registry: started.cluster,
          runner,
          commands: config.nats.commands,
          claimWaitMs: config.server.requestTimeoutMs,
        });
      }
      cleanup.add(() => started.close(1_000));
    }

    const publisher = new StreamPublisher(pub, metrics, logger, config.server.sendHighWaterMark);
    const onLifecycle = (event: Parameters<EventSink["publish"]>[0]) => sink?.publish(event);
    runner.on("lifecycle", onLifecycle);
    runner.on("stream", (event) => publisher.publish(event));

    const requests = new RequestSocket(
      router,
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
        socketTarget(router.lastEndpoint ?? config.server.bind, requests, newRouter),
        socketTarget(pub.lastEndpoint ?? config.server.publishBind, publisher, newPublisher),
      ],
      settled: () => requests.settled(),
      settleTimeoutMs: config.server.requestTimeoutMs,
      metrics,
      logger: logger.child({ component: "revocation" }),
    });
    const stopWatchingAllowlist = allowlist?.onChange(recycler.onAllowlistChange);

    let closed = false;
    const http: ObservabilityServer = await startObservabilityServer({
      host: config.http.host,
      port: config.http.port,
      registry: metrics.registry,
      probes: {
        alive: () => !closed,
        ready: () => {
          if (closed) return { ready: false, reason: "closed" };
          if (draining) return { ready: false, reason: "draining" };
          if (!recycler.bound()) {
            return { ready: false, reason: "binding fresh sockets after a key revocation" };
          }
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

    const endpoints = {
      router: router.lastEndpoint ?? config.server.bind,
      publish: pub.lastEndpoint ?? config.server.publishBind,
      http: http.url,
    };

    const closeAll = async (sinkDeadlineMs: number) => {
      if (closed) return;
      closed = true;
      stopWatchingAllowlist?.();
      await recycler.close();
      await requests.closeSocket();
      await publisher.closeSocket();
      await Promise.allSettled([
        sink?.close(sinkDeadlineMs),
        zap?.close(),
        http.close(),
        // The runner waits for its watchdog to exit; a timer keeps the event loop alive meanwhile.
        withTimeout(runner.close(), 5_000),
      ]);
      runner.off("lifecycle", onLifecycle);
      allowlist?.close();
    };

    let shuttingDown: Promise<void> | null = null;
    const shutdown = () => {
      shuttingDown ??= (async () => {
        const deadline = Date.now() + shutdownBudgetMs(config.server);
        // Keep a slice of the grace period for closing sockets and flushing events.
        const margin = Math.min(2_000, config.server.shutdownGraceMs * 0.1);
        const remaining = () => Math.max(0, deadline - margin - Date.now());
        draining = true;
        logger.info({ graceMs: config.server.shutdownGraceMs }, "draining: refusing new spawns");
        await withTimeout(handler.idle(), remaining() / 2);
        if (config.server.agentDrainMs > 0 && runner.activeCount() > 0) {
          logger.info(
            { agents: runner.activeCount(), maxMs: config.server.agentDrainMs },
            "draining: waiting for agents to finish",
          );
          const drained = await waitForAgents(runner, config.server.agentDrainMs);
          logger.info(drained, drained.finished ? "agents finished" : "agent drain maximum reached");
        }
        if (config.server.stopAgentsOnShutdown && runner.activeCount() > 0) {
          const graceMs = Math.max(1, Math.min(config.runner.stopGraceMs, remaining() - 500));
          logger.info({ agents: runner.activeCount(), graceMs }, "stopping agents");
          await withTimeout(runner.stopAll(graceMs), remaining());
        }
        await withTimeout(Promise.all([requests.drained(), publisher.drained()]), remaining());
        await closeAll(Math.max(100, deadline - Date.now() - 200));
        logger.info("shutdown complete");
      })();
      return shuttingDown;
    };

    logger.info(
      { endpoints, curve: Boolean(secretKey), nats: config.nats.enabled },
      "zeroplane server listening",
    );
    return {
      endpoints,
      handler: handler.handle,
      metrics,
      logger,
      ready: () => !closed && ready(),
      draining: () => draining,
      shutdown,
      close: () => closeAll(1_000),
    };
  } catch (error) {
    await cleanup.run();
    throw error;
  }
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
