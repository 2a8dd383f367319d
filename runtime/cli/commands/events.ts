/**
 * `zeroplane events`: tails the lifecycle events stream on NATS JetStream with an ordered (ephemeral)
 * consumer. Replays from a stream sequence (`--from-seq`) or a time (`--since 10m`, `--since <ISO time>`),
 * filters by server, agent and type, prints lines for people or JSON lines (`--json`).
 *
 * NATS settings (URLs, TLS and credential files, stream, subject prefix) come from the agent server's
 * config: `--server-config <file>` and `ZEROPLANE_NATS_*` variables, then these flags.
 */
import type { Command } from "commander";
import {
  connect,
  DeliverPolicy,
  type ConsumerMessages,
  type JsMsg,
  type NatsConnection,
  type OrderedConsumerOptions,
} from "nats";
import { CONFIG_FILE_ENV, ENV_VARS, loadConfig, type ZeroplaneConfig } from "../../config/index.js";
import { connectionOptions } from "../../events/connection.js";
import { eventFilter } from "../../events/subjects.js";
import { LIFECYCLE_EVENT_TYPES, type LifecycleEvent } from "../../protocol/index.js";
import { activeContext } from "../contexts.js";
import { parseSince } from "../since.js";

export { parseSince };
import { action, CliError, collectRepeatable, EXIT_CODES } from "../shared.js";

export interface EventsCommandOptions {
  /** NATS settings, as the agent server reads them. */
  readonly nats: ZeroplaneConfig["nats"];
  readonly serverId?: string;
  readonly agentId?: string;
  readonly type?: string;
  /** Start at this stream sequence. */
  readonly fromSeq?: number;
  /** Start at this time (milliseconds since the epoch). */
  readonly sinceMs?: number;
  /** Keep waiting for new events. Without a start, following shows only new events; not following shows all. */
  readonly follow: boolean;
  readonly json: boolean;
  /** Stops following. */
  readonly signal?: AbortSignal;
}

/** One printed event. */
export interface TailedEvent {
  readonly streamSeq: number;
  readonly subject: string;
  readonly event: LifecycleEvent;
}

/** Prints matching events; resolves when caught up (not following) or when the signal aborts. */
export async function tailEvents(
  options: EventsCommandOptions,
  write: (line: string) => void,
): Promise<number> {
  if (options.type && !(LIFECYCLE_EVENT_TYPES as readonly string[]).includes(options.type)) {
    throw new CliError(
      `--type "${options.type}" is not a lifecycle event type. Fix: use one of ${LIFECYCLE_EVENT_TYPES.join(", ")}.`,
      EXIT_CODES.usage,
    );
  }
  const connection = await connectOnce(options);
  try {
    const js = connection.jetstream();
    const consumerOptions: Partial<OrderedConsumerOptions> = {
      filterSubjects: eventFilter(options.nats.subjectPrefix, {
        serverId: options.serverId,
        agentId: options.agentId,
        type: options.type,
      }),
      ...startAt(options),
    };
    const consumer = await js.consumers.get(options.nats.stream, consumerOptions).catch((error: Error) => {
      throw new CliError(
        `cannot read stream ${options.nats.stream}: ${error.message}. Fix: check nats.stream and that JetStream is enabled.`,
        EXIT_CODES.serverError,
      );
    });
    let printed = 0;
    const print = (msg: JsMsg): void => {
      const tailed: TailedEvent = {
        streamSeq: msg.seq,
        subject: msg.subject,
        event: msg.json<LifecycleEvent>(),
      };
      write(options.json ? JSON.stringify(tailed) : formatEvent(tailed));
      printed += 1;
    };
    if (!options.follow) {
      // Fetch until a batch comes back empty or reports nothing pending.
      for (;;) {
        const batch = await consumer.fetch({ max_messages: 500, expires: 1000 });
        let got = 0;
        let caughtUp = false;
        for await (const msg of batch) {
          got += 1;
          print(msg);
          if (msg.info.pending === 0) {
            caughtUp = true;
            break; // Ends the pull at once instead of waiting for it to expire.
          }
        }
        if (got === 0 || caughtUp) break;
      }
      return printed;
    }
    const messages: ConsumerMessages = await consumer.consume();
    const stop = (): void => void messages.close();
    options.signal?.addEventListener("abort", stop, { once: true });
    if (options.signal?.aborted) stop();
    for await (const msg of messages) print(msg);
    return printed;
  } finally {
    await connection.close();
  }
}

function startAt(options: EventsCommandOptions): Partial<OrderedConsumerOptions> {
  if (options.fromSeq !== undefined && options.sinceMs !== undefined) {
    throw new CliError(
      "--from-seq and --since both say where to start. Fix: give only one.",
      EXIT_CODES.usage,
    );
  }
  if (options.fromSeq !== undefined) {
    return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: options.fromSeq };
  }
  if (options.sinceMs !== undefined) {
    return {
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: new Date(options.sinceMs).toISOString(),
    };
  }
  // Without a policy the ordered consumer starts at sequence 1: everything.
  return options.follow ? { deliver_policy: DeliverPolicy.New } : {};
}

async function connectOnce(options: EventsCommandOptions): Promise<NatsConnection> {
  const base = connectionOptions(options.nats, "zeroplane-cli-events");
  try {
    return await connect({
      ...base,
      waitOnFirstConnect: false,
      maxReconnectAttempts: options.follow ? -1 : 0,
    });
  } catch (error) {
    throw new CliError(
      `cannot connect to NATS at ${options.nats.urls.join(", ")}: ${(error as Error).message}. Fix: check --nats-url (or nats.urls) and the credentials.`,
      EXIT_CODES.unreachable,
    );
  }
}

/** `2026-01-31T12:00:00.000Z  #42  srv-a  agent-7  exited  seq=3 status=exited`. */
export function formatEvent({ streamSeq, event }: TailedEvent): string {
  const extra = event.detail
    ? ` ${Object.entries(event.detail)
        .map(([key, value]) => `${key}=${value}`)
        .join(" ")}`
    : "";
  return `${new Date(event.time).toISOString()}  #${streamSeq}  ${event.serverId}  ${event.agentId}  ${event.type}  seq=${event.seq} status=${event.agent.status}${extra}`;
}

interface EventsFlags {
  readonly serverConfig?: string;
  readonly context?: string;
  readonly natsUrl?: string[];
  readonly stream?: string;
  readonly subjectPrefix?: string;
  readonly serverId?: string;
  readonly agent?: string;
  readonly type?: string;
  readonly fromSeq?: string;
  readonly since?: string;
  readonly follow: boolean;
  readonly json?: boolean;
}

/**
 * The context's NATS URLs (and token file, for a context `zeroplane up` wrote), used only when
 * neither a server config (--server-config, ZEROPLANE_CONFIG) nor ZEROPLANE_NATS_URLS names them:
 * flags, then the environment, then the context.
 */
function contextNats(
  flags: EventsFlags,
  env: NodeJS.ProcessEnv = process.env,
): { urls: string[]; tokenFile?: string } | undefined {
  if (flags.serverConfig || env[CONFIG_FILE_ENV] || env[ENV_VARS["nats.urls"]]) return undefined;
  const context = activeContext(flags.context, env)?.context;
  if (!context?.natsUrls?.length) return undefined;
  return {
    urls: [...context.natsUrls],
    ...(context.natsTokenFile ? { tokenFile: context.natsTokenFile } : {}),
  };
}

function parseFromSeq(value: string): number {
  const seq = Number(value);
  if (!Number.isInteger(seq) || seq < 1) {
    throw new CliError(
      `--from-seq must be a stream sequence of 1 or more, got "${value}".`,
      EXIT_CODES.usage,
    );
  }
  return seq;
}

export function register(program: Command): void {
  program
    .command("events")
    .description("tail agent lifecycle events from NATS JetStream (replay with --from-seq or --since)")
    .option(
      "--server-config <file>",
      "the agent server's config file, for its nats.* settings (else ZEROPLANE_CONFIG)",
    )
    .option(
      "--nats-url <url>",
      "NATS URL, repeatable (default: nats.urls, else the context's NATS URLs)",
      collectRepeatable,
    )
    .option("--context <name>", "take the NATS URLs from this context instead of the current one")
    .option("--stream <name>", "JetStream stream (default: nats.stream)")
    .option("--subject-prefix <prefix>", "event subject prefix (default: nats.subjectPrefix)")
    .option("--server-id <id>", "only events of this agent server")
    .option("--agent <id>", "only events of this agent")
    .option("--type <type>", `only this event type: ${LIFECYCLE_EVENT_TYPES.join(", ")}`)
    .option("--from-seq <n>", "start at this stream sequence")
    .option("--since <when>", "start at a time: a duration ago (10m, 2h, 1d) or an ISO time")
    .option("--no-follow", "print what is stored (from the start unless told) and exit")
    .option("--json", "print one JSON object per line: { streamSeq, subject, event }")
    .action(
      action(async (flags: EventsFlags) => {
        const fromContext = flags.natsUrl?.length ? undefined : contextNats(flags);
        const urls = flags.natsUrl?.length ? flags.natsUrl : fromContext?.urls;
        const config = loadConfig({
          ...(flags.serverConfig ? { file: flags.serverConfig } : {}),
          overrides: {
            nats: {
              ...(urls ? { urls } : {}),
              ...(fromContext?.tokenFile ? { tokenFile: fromContext.tokenFile } : {}),
              ...(flags.stream ? { stream: flags.stream } : {}),
              ...(flags.subjectPrefix ? { subjectPrefix: flags.subjectPrefix } : {}),
            },
          },
        });
        const abort = new AbortController();
        const onSignal = (): void => abort.abort();
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        try {
          await tailEvents(
            {
              nats: config.nats,
              serverId: flags.serverId,
              agentId: flags.agent,
              type: flags.type,
              fromSeq: flags.fromSeq === undefined ? undefined : parseFromSeq(flags.fromSeq),
              sinceMs: flags.since === undefined ? undefined : parseSince(flags.since),
              follow: flags.follow,
              json: Boolean(flags.json),
              signal: abort.signal,
            },
            (line) => process.stdout.write(`${line}\n`),
          );
        } finally {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
        }
      }),
    );
}
