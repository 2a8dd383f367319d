/**
 * Agent status and output events from the servers' PUB sockets, on one SUB socket connected to
 * every server. ZeroMQ reconnects lost connections by itself and re-sends our subscriptions on each
 * new connection, so a subscription survives a server restart without any action here.
 */
import { decode } from "@msgpack/msgpack";
import { Subscriber } from "zeromq";
import { STREAM_TOPICS, type StreamEvent } from "../protocol/index.js";
import type { CurveClientKeys } from "./curve.js";
import { zmqSocketOptions, type ClientSocketOptions } from "./socket-options.js";

export type StreamKind = StreamEvent["kind"];

export interface SubscribeOptions {
  /** Only this agent's events. @default every agent */
  readonly agentId?: string;
  /** Which kinds of event. @default ["status", "output"] */
  readonly kinds?: readonly StreamKind[];
}

export type StreamListener = (event: StreamEvent) => void;

interface Listener {
  readonly topics: readonly string[];
  readonly agentId: string | undefined;
  readonly kinds: ReadonlySet<StreamKind>;
  readonly listener: StreamListener;
}

export class EventStream {
  private readonly socket: Subscriber;
  private readonly endpoints = new Set<string>();
  private readonly topicCounts = new Map<string, number>();
  private readonly listeners = new Set<Listener>();
  private closed = false;

  constructor(options: { socket?: ClientSocketOptions; curve: CurveClientKeys | null }) {
    this.socket = new Subscriber(zmqSocketOptions(options.socket ?? {}, options.curve, "subscriber"));
    void this.receive();
  }

  /** Connects to one more server's PUB endpoint (no-op if already connected). */
  addEndpoint(endpoint: string): void {
    if (this.closed || this.endpoints.has(endpoint)) return;
    this.endpoints.add(endpoint);
    this.socket.connect(endpoint);
  }

  removeEndpoint(endpoint: string): void {
    if (this.closed || !this.endpoints.delete(endpoint)) return;
    this.socket.disconnect(endpoint);
  }

  /** Calls `listener` for every matching event until the returned function is called. */
  subscribe(options: SubscribeOptions, listener: StreamListener): () => void {
    const kinds = new Set<StreamKind>(options.kinds ?? ["status", "output"]);
    const topics = [...kinds].map((kind) =>
      options.agentId
        ? STREAM_TOPICS[kind](options.agentId)
        : kind === "status"
          ? STREAM_TOPICS.allStatus
          : STREAM_TOPICS.allOutput,
    );
    const entry: Listener = { topics, agentId: options.agentId, kinds, listener };
    this.listeners.add(entry);
    for (const topic of topics) {
      const count = this.topicCounts.get(topic) ?? 0;
      if (count === 0 && !this.closed) this.socket.subscribe(topic);
      this.topicCounts.set(topic, count + 1);
    }
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.listeners.delete(entry);
      for (const topic of topics) {
        const count = (this.topicCounts.get(topic) ?? 1) - 1;
        if (count === 0) {
          this.topicCounts.delete(topic);
          if (!this.closed) this.socket.unsubscribe(topic);
        } else this.topicCounts.set(topic, count);
      }
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.socket.close();
  }

  private async receive(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        if (frames.length < 2) continue;
        let event: StreamEvent;
        try {
          event = decode(frames[frames.length - 1]!) as StreamEvent;
        } catch {
          continue;
        }
        const agentId = event.kind === "status" ? event.agent?.id : event.agentId;
        for (const entry of this.listeners) {
          if (!entry.kinds.has(event.kind)) continue;
          if (entry.agentId !== undefined && entry.agentId !== agentId) continue;
          try {
            entry.listener(event);
          } catch {
            // A throwing listener must not stop the stream for the others.
          }
        }
      }
    } catch {
      // The socket was closed.
    }
  }
}
