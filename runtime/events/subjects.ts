/**
 * Subject and message-id naming for lifecycle events and command intake.
 *
 * Event subject: `<prefix>.<serverId>.<agentId>.<type>`; message id: `<serverId>.<agentId>.<seq>`.
 * Subject tokens cannot hold '.', '*', '>' or whitespace, so an agent id with any character outside
 * [A-Za-z0-9_-] is escaped: each such UTF-8 byte becomes `~` and two hex digits (`~` itself included),
 * which keeps the mapping one-to-one and filterable.
 */
import type { LifecycleEvent } from "../protocol/index.js";

const SAFE_TOKEN = /^[A-Za-z0-9_-]+$/;

/** Escapes an id into one NATS subject token. */
export function subjectToken(id: string): string {
  if (SAFE_TOKEN.test(id)) return id;
  let out = "";
  for (const byte of Buffer.from(id, "utf8")) {
    const char = String.fromCharCode(byte);
    out += byte < 0x80 && /[A-Za-z0-9_-]/.test(char) ? char : `~${byte.toString(16).padStart(2, "0")}`;
  }
  return out;
}

/** The subject an event is published on. */
export function eventSubject(
  prefix: string,
  event: Pick<LifecycleEvent, "serverId" | "agentId" | "type">,
): string {
  return `${prefix}.${subjectToken(event.serverId)}.${subjectToken(event.agentId)}.${event.type}`;
}

/** The `Nats-Msg-Id` of an event: stable across retries, so JetStream stores it once. */
export function eventMessageId(event: Pick<LifecycleEvent, "serverId" | "agentId" | "seq">): string {
  return `${event.serverId}.${event.agentId}.${event.seq}`;
}

/** The wildcard subject the events stream must capture. */
export function streamSubject(prefix: string): string {
  return `${prefix}.>`;
}

/** A subject filter for the events stream: any part left out matches everything. */
export function eventFilter(
  prefix: string,
  filter: { readonly serverId?: string; readonly agentId?: string; readonly type?: string },
): string {
  if (!filter.serverId && !filter.agentId && !filter.type) return streamSubject(prefix);
  const server = filter.serverId ? subjectToken(filter.serverId) : "*";
  const agent = filter.agentId ? subjectToken(filter.agentId) : "*";
  return `${prefix}.${server}.${agent}.${filter.type ?? "*"}`;
}

/**
 * True when the subject pattern `wide` matches every subject that `narrow` matches
 * (for example `agent.>` covers `agent.events.>`; `agent.events.*` does not).
 */
export function subjectCovers(wide: string, narrow: string): boolean {
  const w = wide.split(".");
  const n = narrow.split(".");
  for (let i = 0; i < w.length; i++) {
    const token = w[i]!;
    if (token === ">") return i < n.length;
    const other = n[i];
    if (other === undefined) return false;
    if (token === "*") {
      if (other === ">") return false;
      continue;
    }
    if (token !== other) return false;
  }
  return w.length === n.length;
}
