/** How the CLI shows agents to a person. */
import type { AgentInfo } from "../protocol/index.js";
import { formatAge, formatDetails, formatTable, type Column } from "./shared.js";

const commandLine = (agent: AgentInfo) => [agent.command, ...agent.args].join(" ");

export const AGENT_COLUMNS: ReadonlyArray<Column<AgentInfo>> = [
  { header: "ID", value: (a) => a.id },
  { header: "NAME", value: (a) => a.name },
  { header: "STATUS", value: (a) => a.status },
  { header: "PID", value: (a) => a.pid },
  { header: "EXIT", value: (a) => a.exitCode ?? a.signal },
  { header: "SERVER", value: (a) => a.serverId },
  { header: "AGE", value: (a) => formatAge(a.createdAt) },
  { header: "COMMAND", value: commandLine },
];

export function formatAgents(agents: readonly AgentInfo[]): string {
  return formatTable(agents, AGENT_COLUMNS);
}

export function formatAgent(agent: AgentInfo): string {
  const labels = Object.entries(agent.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  return formatDetails([
    ["id", agent.id],
    ["name", agent.name],
    ["status", agent.status],
    ["server", agent.serverId],
    ["command", commandLine(agent)],
    ["cwd", agent.cwd],
    ["labels", labels],
    ["pid", agent.pid],
    ["exit code", agent.exitCode],
    ["signal", agent.signal],
    ["error", agent.error],
    ["timeout ms", agent.timeoutMs],
    ["created", new Date(agent.createdAt).toISOString()],
    ["started", agent.startedAt === null ? null : new Date(agent.startedAt).toISOString()],
    ["ended", agent.endedAt === null ? null : new Date(agent.endedAt).toISOString()],
    ["stdout bytes", `${agent.outputBytes.stdout} (dropped ${agent.droppedBytes.stdout})`],
    ["stderr bytes", `${agent.outputBytes.stderr} (dropped ${agent.droppedBytes.stderr})`],
  ]);
}

/** "agent <id> on <server> exited with code 0": one line for the end of an agent. */
export function describeEnd(agent: AgentInfo): string {
  const how =
    agent.exitCode !== null
      ? `with code ${agent.exitCode}`
      : agent.signal
        ? `by ${agent.signal}`
        : agent.error
          ? `(${agent.error})`
          : "";
  return `agent ${agent.id} on ${agent.serverId} ${agent.status} ${how}`.trimEnd();
}
