/** The lifecycle events the events and registry benches publish: `started` events of plausible agents. */
import type { LifecycleEvent } from "../runtime/protocol/index.js";

/** `count` started events of agents `<tag>-agent-<i>` on `serverId`. */
export function startedEvents(count: number, tag: string, serverId = "bench"): LifecycleEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    type: "started",
    serverId,
    agentId: `${tag}-agent-${i}`,
    seq: 1,
    time: Date.now(),
    agent: {
      id: `${tag}-agent-${i}`,
      serverId,
      name: null,
      command: "/usr/bin/agent",
      args: ["--task", "bench"],
      cwd: null,
      labels: { team: "bench" },
      status: "running",
      pid: 1000 + i,
      exitCode: null,
      signal: null,
      error: null,
      timeoutMs: null,
      createdAt: Date.now(),
      startedAt: Date.now(),
      endedAt: null,
      outputBytes: { stdout: 0, stderr: 0 },
      droppedBytes: { stdout: 0, stderr: 0 },
    },
  }));
}
