/**
 * The contract between the agent server and the lifecycle event publisher (NATS JetStream).
 */
import type { LifecycleEvent } from "../protocol/index.js";
import type { ClusterRegistry } from "./registry.js";

export interface EventSink {
  /** Queues an event for publishing. Never throws; failures go to the spool. */
  publish(event: LifecycleEvent): void;
  /** False when spawnRefusal() gives a reason. */
  acceptingSpawns(): boolean;
  /**
   * Why spawns must be refused with UNAVAILABLE, naming the spool directory, or null: the spool's disk
   * fails or is nearly full, or the spool is full under the "refuse-spawns" policy.
   */
  spawnRefusal(): string | null;
  /** False when NATS is required and not connected: /readyz reports it. */
  ready(): boolean;
  /** Flushes what it can within the deadline, then closes. */
  close(deadlineMs: number): Promise<void>;
}

/** What the events service reports about itself (for tests, logs and the CLI). */
export interface EventsStatus {
  /** Connected to NATS with the events stream created or checked. */
  readonly connected: boolean;
  /** Events in the spool, not yet acknowledged by JetStream. */
  readonly spoolEvents: number;
  readonly spoolBytes: number;
  readonly spoolMaxBytes: number;
  /** Why publishing is held, if it is (for example a stream that does not cover our subjects). */
  readonly problem: string | null;
}

/** The running events service: the sink plus what the server and tests may inspect. */
export interface EventsService extends EventSink {
  /** The cluster registry, when started with `cluster` (nats.registry). */
  readonly cluster: ClusterRegistry | null;
  status(): EventsStatus;
  /** Resolves true once the spool is empty and nothing is outstanding; false at the timeout. */
  whenDrained(timeoutMs: number): Promise<boolean>;
}
