/**
 * The runner protocol's messages (docs/runner.md, "Runner protocol"). Agents are named by the
 * server's agent id. Output streams are 0 (stdout) and 1 (stderr).
 */
import type { LaunchSpec } from "../launcher.js";
import type { ReapReport } from "../records.js";

export const RUNNER_PROTOCOL_VERSION = 2;

/** Server → runner. */
export type ServerMessage =
  | ({ readonly t: "launch"; readonly id: string } & Omit<LaunchSpec, "agentId">)
  | { readonly t: "signal"; readonly id: string; readonly signal: string }
  | { readonly t: "write"; readonly id: string; readonly data: Uint8Array }
  | { readonly t: "end"; readonly id: string }
  | { readonly t: "closeOutput"; readonly id: string }
  | { readonly t: "flush" };

/** Runner → server. */
export type RunnerMessage =
  | {
      readonly t: "hello";
      readonly v: number;
      readonly pid: number;
      readonly uid: number;
      readonly instanceId: string;
      readonly watchdogPid: number | null;
      readonly reaped: ReapReport;
    }
  | { readonly t: "spawned"; readonly id: string; readonly pid: number }
  | { readonly t: "error"; readonly id: string; readonly message: string }
  /** Sent with `raw` (the byte count) and the bytes after the frame; read with them as `parts`. */
  | { readonly t: "out"; readonly id: string; readonly s: 0 | 1; readonly parts: readonly Buffer[] }
  | { readonly t: "exit"; readonly id: string; readonly code: number | null; readonly signal: string | null }
  | { readonly t: "close"; readonly id: string }
  | { readonly t: "stdinClosed"; readonly id: string }
  /** Bytes of stdin the agent's pipe has taken (the server counts what is still pending). */
  | { readonly t: "written"; readonly id: string; readonly bytes: number }
  | { readonly t: "flushed" };
