/**
 * What `zeroplane top` shows, as a pure function of a snapshot: servers with their load, agents by
 * status, the newest agents and the recent status changes. The live loop (commands/top.ts) only
 * gathers snapshots and repaints.
 */
import type { ServerOutcome } from "../client/index.js";
import {
  AGENT_STATUSES,
  type AgentInfo,
  type AgentStatus,
  type HealthResult,
  type StatsResult,
} from "../protocol/index.js";
import { formatAge, formatTable } from "./shared.js";

/** One status change seen on the stream. */
export interface TopEvent {
  readonly time: number;
  readonly agentId: string;
  readonly serverId: string;
  readonly previous: AgentStatus | null;
  readonly status: AgentStatus;
}

export interface TopSnapshot {
  readonly now: number;
  readonly health: ReadonlyArray<ServerOutcome<HealthResult>>;
  readonly stats: ReadonlyArray<ServerOutcome<StatsResult>>;
  /** The newest agents (a page per server). */
  readonly agents: readonly AgentInfo[];
  /** Newest last. */
  readonly events: readonly TopEvent[];
  readonly intervalMs: number;
}

/** Rows of agents and events shown. */
export const TOP_ROWS = 10;

function bar(load: number, width = 10): string {
  const filled = Math.round(Math.min(1, Math.max(0, load)) * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
}

function state(outcome: ServerOutcome<HealthResult>): string {
  if (!outcome.ok) return "unreachable";
  const h = outcome.result;
  return h.draining ? "draining" : !h.healthy ? "unhealthy" : h.ready ? "ready" : "not-ready";
}

/** The screen for one snapshot (no terminal codes: the caller clears the screen). */
export function renderTop(snapshot: TopSnapshot): string {
  const { now } = snapshot;
  const reachable = snapshot.health.filter((o) => o.ok).length;
  const byStatus = new Map<AgentStatus, number>();
  for (const outcome of snapshot.stats) {
    if (!outcome.ok) continue;
    for (const status of AGENT_STATUSES) {
      byStatus.set(status, (byStatus.get(status) ?? 0) + (outcome.result.agentsByStatus[status] ?? 0));
    }
  }
  const total = [...byStatus.values()].reduce((sum, n) => sum + n, 0);
  const lines: string[] = [
    `zeroplane top  ${new Date(now).toISOString()}  servers ${reachable}/${snapshot.health.length} up  agents ${total}  (every ${snapshot.intervalMs / 1000} s; Ctrl-C quits)`,
    "",
    formatTable(snapshot.health, [
      { header: "SERVER", value: (o) => (o.ok ? o.result.serverId : o.serverId) },
      { header: "ENDPOINT", value: (o) => o.endpoint },
      { header: "STATE", value: state },
      { header: "AGENTS", value: (o) => (o.ok ? `${o.result.activeAgents}/${o.result.maxAgents}` : null) },
      {
        header: "LOAD",
        value: (o) => (o.ok ? `${bar(o.result.load)} ${Math.round(o.result.load * 100)}%` : null),
      },
      { header: "UPTIME", value: (o) => (o.ok ? formatAge(now - o.result.uptimeMs, now) : null) },
    ]).trimEnd(),
    "",
    `AGENTS BY STATUS  ${
      total === 0
        ? "none"
        : AGENT_STATUSES.filter((status) => (byStatus.get(status) ?? 0) > 0)
            .map((status) => `${status} ${byStatus.get(status)}`)
            .join("  ")
    }`,
    "",
  ];
  const newest = [...snapshot.agents]
    .sort((a, b) => b.createdAt - a.createdAt || a.id.localeCompare(b.id))
    .slice(0, TOP_ROWS);
  lines.push(
    newest.length === 0
      ? "NEWEST AGENTS  none"
      : formatTable(newest, [
          { header: "AGENT", value: (a) => a.id },
          { header: "STATUS", value: (a) => a.status },
          { header: "SERVER", value: (a) => a.serverId },
          { header: "AGE", value: (a) => formatAge(a.createdAt, now) },
          { header: "COMMAND", value: (a) => [a.command, ...a.args].join(" ").slice(0, 60) },
        ]).trimEnd(),
    "",
  );
  const recent = snapshot.events.slice(-TOP_ROWS).reverse();
  lines.push(recent.length === 0 ? "RECENT EVENTS  none since top started" : "RECENT EVENTS");
  for (const event of recent) {
    lines.push(
      `  ${new Date(event.time).toISOString().slice(11, 19)}  ${event.agentId}  ${event.serverId}  ${event.previous ?? "-"} -> ${event.status}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
