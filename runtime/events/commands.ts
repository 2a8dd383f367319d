/**
 * Command intake over NATS request/reply: the same envelope and the same validated handler as the
 * ZeroMQ path.
 *
 * Subjects (with the default prefix `agent.commands`):
 * - `agent.commands.<method>`: shared work, served by one member of the queue group (any agent server);
 * - `agent.commands.<serverId>.<method>`: addressed to one agent server (control, get and output for its
 *   agents), served by that server only.
 * Body: a MessagePack map `{ v, id, method?, params }` (the ZeroMQ request envelope; `method`, if present,
 * must equal the subject's). The reply is the ZeroMQ reply envelope `{ v, id, ok, result | error }`,
 * MessagePack-encoded. A body that starts with `{` is read as JSON and answered in JSON (byte fields as
 * base64 strings), for `nats req` from a shell.
 */
import type { Logger } from "pino";
import { decode, encode } from "@msgpack/msgpack";
import type { Msg, NatsConnection, Subscription } from "nats";
import {
  ERROR_CODES,
  METHODS,
  PROTOCOL_VERSION,
  ProtocolError,
  type Method,
  type ProtocolErrorBody,
  type RequestHandler,
} from "../protocol/index.js";
import type { EventsMetrics } from "./metrics.js";
import { subjectToken } from "./subjects.js";

export interface CommandIntakeOptions {
  readonly connection: NatsConnection;
  readonly subjectPrefix: string;
  readonly queueGroup: string;
  readonly serverId: string;
  readonly handler: RequestHandler;
  readonly logger: Logger;
  readonly metrics: EventsMetrics;
}

type Encoding = "msgpack" | "json";

interface Reply {
  readonly v: number;
  readonly id: string;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: ProtocolErrorBody;
}

const JSON_OPEN_BRACE = 0x7b;

export class CommandIntake {
  private readonly subscriptions: Subscription[];
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly options: CommandIntakeOptions) {
    const { connection, subjectPrefix, queueGroup, serverId } = options;
    const callback = (error: Error | null, msg: Msg): void => {
      if (error) {
        options.logger.error({ err: error }, "NATS command subscription failed");
        return;
      }
      const task = this.handle(msg).finally(() => this.running.delete(task));
      this.running.add(task);
    };
    this.subscriptions = [
      connection.subscribe(`${subjectPrefix}.*`, { queue: queueGroup, callback }),
      connection.subscribe(`${subjectPrefix}.${subjectToken(serverId)}.*`, { callback }),
    ];
  }

  /** Subjects served, for logs and docs. */
  subjects(): string[] {
    return this.subscriptions.map((subscription) => subscription.getSubject());
  }

  /** Stops taking commands and waits for those being handled (up to the deadline). */
  async close(deadlineMs: number): Promise<void> {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, deadlineMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private async handle(msg: Msg): Promise<void> {
    const encoding: Encoding = msg.data[0] === JSON_OPEN_BRACE ? "json" : "msgpack";
    const method = msg.subject.slice(msg.subject.lastIndexOf(".") + 1);
    let id = "";
    let reply: Reply;
    try {
      const envelope = decodeEnvelope(msg.data, encoding);
      id = envelope.id;
      checkEnvelope(envelope, method);
      const result = await this.options.handler(method as Method, envelope.params ?? {});
      reply = { v: PROTOCOL_VERSION, id, ok: true, result };
      this.options.metrics.commands.inc({ method: metricMethod(method), outcome: "ok" });
    } catch (error) {
      const body = errorBody(error);
      if (body.code === ERROR_CODES.INTERNAL) {
        this.options.logger.error({ err: error, method }, "NATS command failed with an internal error");
      }
      reply = { v: PROTOCOL_VERSION, id, ok: false, error: body };
      this.options.metrics.commands.inc({ method: metricMethod(method), outcome: body.code });
    }
    if (!msg.reply) return; // A plain publish: nobody to answer.
    try {
      msg.respond(encodeReply(reply, encoding));
    } catch (error) {
      this.options.logger.warn({ err: error, method }, "cannot send the NATS command reply");
    }
  }
}

interface DecodedEnvelope {
  readonly v?: unknown;
  readonly id: string;
  readonly method?: unknown;
  readonly params?: unknown;
}

function decodeEnvelope(data: Uint8Array, encoding: Encoding): DecodedEnvelope {
  let value: unknown;
  try {
    value = encoding === "json" ? JSON.parse(new TextDecoder().decode(data)) : decode(data);
  } catch (error) {
    throw new ProtocolError(
      ERROR_CODES.BAD_REQUEST,
      `request body is not valid ${encoding === "json" ? "JSON" : "MessagePack"}: ${(error as Error).message}. Fix: send a MessagePack map { v, id, params }.`,
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ProtocolError(
      ERROR_CODES.BAD_REQUEST,
      "request body must be a map { v, id, params }. Fix: send the ZeroMQ request envelope.",
    );
  }
  const envelope = value as Record<string, unknown>;
  return { ...envelope, id: typeof envelope.id === "string" ? envelope.id : "" };
}

function checkEnvelope(envelope: DecodedEnvelope, method: string): void {
  if (envelope.v !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      ERROR_CODES.UNSUPPORTED_VERSION,
      `protocol version ${JSON.stringify(envelope.v)} is not supported. Fix: send v: ${PROTOCOL_VERSION}.`,
    );
  }
  if (!(METHODS as readonly string[]).includes(method)) {
    throw new ProtocolError(
      ERROR_CODES.UNKNOWN_METHOD,
      `unknown method "${method}" (the subject's last token). Fix: use one of ${METHODS.join(", ")}.`,
    );
  }
  if (envelope.method !== undefined && envelope.method !== method) {
    throw new ProtocolError(
      ERROR_CODES.BAD_REQUEST,
      `envelope method ${JSON.stringify(envelope.method)} does not match the subject's method "${method}". Fix: send to the subject of that method, or drop method from the envelope.`,
    );
  }
}

function errorBody(error: unknown): ProtocolErrorBody {
  if (error instanceof ProtocolError) return error.toBody();
  return new ProtocolError(
    ERROR_CODES.INTERNAL,
    `internal error: ${(error as Error)?.message ?? String(error)}`,
  ).toBody();
}

function encodeReply(reply: Reply, encoding: Encoding): Uint8Array {
  if (encoding === "msgpack") return encode(reply, { ignoreUndefined: true });
  // Read the raw value from the holder: Buffer's toJSON would run before a replacer sees `value`.
  const text = JSON.stringify(reply, function (this: Record<string, unknown>, key: string, value: unknown) {
    const raw = this[key];
    return raw instanceof Uint8Array ? Buffer.from(raw).toString("base64") : value;
  });
  return new TextEncoder().encode(text);
}

/** Bounded label values: unknown methods share one label. */
function metricMethod(method: string): string {
  return (METHODS as readonly string[]).includes(method) ? method : "unknown";
}
