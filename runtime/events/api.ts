/**
 * The contract between the agent server and the lifecycle event publisher (NATS JetStream).
 */
import type { LifecycleEvent } from "../protocol/index.js";

export interface EventSink {
  /** Queues an event for publishing. Never throws; failures go to the spool. */
  publish(event: LifecycleEvent): void;
  /** False when the spool is full and the policy is "refuse-spawns": the server refuses spawns with UNAVAILABLE. */
  acceptingSpawns(): boolean;
  /** False when NATS is required and not connected: /readyz reports it. */
  ready(): boolean;
  /** Flushes what it can within the deadline, then closes. */
  close(deadlineMs: number): Promise<void>;
}
