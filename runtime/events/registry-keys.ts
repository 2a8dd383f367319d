/**
 * What the cluster registry stores and under which keys: pure functions shared by the publisher (which
 * writes agent records through the spool) and the registry (which reads them and claims keys).
 *
 * KV keys allow only `[-/_=.A-Za-z0-9]`: an agent id is escaped as a subject token (subjects.ts), with
 * its `~` escapes written as `=`, so the mapping stays one-to-one. Idempotency keys are client text of
 * any shape: they are stored under their SHA-256 (hex).
 */
import { createHash } from "node:crypto";
import type { AgentInfo, LifecycleEvent } from "../protocol/index.js";
import { subjectToken } from "./subjects.js";

/** One agent's record in the registry: its last known fields, stamped with the owner's instance. */
export interface AgentRecordValue {
  readonly agent: AgentInfo;
  /** The owning server process (a random id per start); the agent is lost once it stops heartbeating. */
  readonly instance: string;
  /** The lifecycle event this record reflects (per-agent sequence number). */
  readonly seq: number;
  readonly time: number;
}

/** An idempotency key's claim: which server, process and agent id a spawn with this key belongs to. */
export interface KeyClaim {
  readonly serverId: string;
  readonly instance: string;
  readonly agentId: string;
  /** Milliseconds since the epoch. */
  readonly at: number;
}

/** A server's heartbeat: its current instance. */
export interface Heartbeat {
  readonly instance: string;
  readonly at: number;
}

const encoder = new TextEncoder();

/** The KV key of an agent's record or a server's heartbeat. */
export function registryKey(id: string): string {
  return subjectToken(id).replaceAll("~", "=");
}

/** The KV key of an idempotency key. */
export function idempotencyKeyName(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** The subject a KV put of an agent's record is published on (JetStream KV's own layout). */
export function recordSubject(bucket: string, agentId: string): string {
  return `$KV.${bucket}.${registryKey(agentId)}`;
}

export function encodeRecordValue(event: LifecycleEvent, instance: string): Uint8Array {
  const value: AgentRecordValue = { agent: event.agent, instance, seq: event.seq, time: event.time };
  return encoder.encode(JSON.stringify(value));
}

export function encodeJson(value: KeyClaim | Heartbeat): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}
