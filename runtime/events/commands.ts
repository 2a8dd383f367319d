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
import type { Msg, NatsConnection, Subscription } from "nats";
import {
  decodeRequest,
  describeWireValue,
  encodeError,
  encodeResult,
  type WireEncoding,
} from "../protocol/codec.js";
import {
  ERROR_CODES,
  METHODS,
  ProtocolError,
  toProtocolError,
  type Method,
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
  /** server.maxMessageBytes: the same bound as the ZeroMQ path. */
  readonly maxMessageBytes: number;
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
    const encoding: WireEncoding = msg.data[0] === JSON_OPEN_BRACE ? "json" : "msgpack";
    const method = msg.subject.slice(msg.subject.lastIndexOf(".") + 1);
    let id = "";
    let reply: Uint8Array;
    try {
      const decoded = decodeRequest(msg.data, { maxMessageBytes: this.options.maxMessageBytes, encoding });
      if (!decoded.ok) {
        id = decoded.id;
        throw decoded.error;
      }
      id = decoded.request.id;
      checkMethod(decoded.request.method, method);
      const result = await this.options.handler(method as Method, decoded.request.params ?? {});
      reply = encodeResult(id, result, encoding);
      this.options.metrics.commands.inc({ method: metricMethod(method), outcome: "ok" });
    } catch (error) {
      // Internal errors are logged here and answered without details, as on the ZeroMQ path.
      const wire = toProtocolError(error);
      if (wire.code === ERROR_CODES.INTERNAL) {
        this.options.logger.error(
          { err: wire.cause ?? error, method: metricMethod(method) },
          "NATS command failed with an internal error",
        );
      }
      reply = encodeError(id, wire.toBody(), encoding);
      this.options.metrics.commands.inc({ method: metricMethod(method), outcome: wire.code });
    }
    if (!msg.reply) return; // A plain publish: nobody to answer.
    try {
      msg.respond(reply);
    } catch (error) {
      this.options.logger.warn(
        { err: error, method: metricMethod(method) },
        "cannot send the NATS command reply",
      );
    }
  }
}

/** The subject names the method; an envelope `method`, if present, must agree. */
function checkMethod(envelopeMethod: unknown, method: string): void {
  if (!(METHODS as readonly string[]).includes(method)) {
    throw new ProtocolError(
      ERROR_CODES.UNKNOWN_METHOD,
      `unknown method ${describeWireValue(method)} (the subject's last token). Fix: use one of ${METHODS.join(", ")}.`,
    );
  }
  if (envelopeMethod !== undefined && envelopeMethod !== method) {
    throw new ProtocolError(
      ERROR_CODES.BAD_REQUEST,
      `envelope method ${describeWireValue(envelopeMethod)} does not match the subject's method "${method}". Fix: send to the subject of that method, or drop method from the envelope.`,
    );
  }
}

/** Bounded label values: unknown methods share one label. */
function metricMethod(method: string): string {
  return (METHODS as readonly string[]).includes(method) ? method : "unknown";
}
