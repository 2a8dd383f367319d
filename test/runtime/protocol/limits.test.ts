/**
 * Per-request caps on params: a request over a cap gets a message naming the field, the limit (and
 * its constant) and the fix; a request exactly at a cap passes. Every client duration is bounded by
 * the longest timer Node honours.
 */
import { describe, expect, it } from "vitest";
import {
  MAX_TIMER_MS,
  METHOD_PARAMS,
  REQUEST_LIMITS as L,
  type Method,
} from "../../../runtime/protocol/index.js";
import { describeValidationError } from "../../../runtime/server/handler.js";

/** The BAD_REQUEST message the server would send, or null when the params pass. */
function problem(method: Method, params: unknown): string | null {
  const parsed = METHOD_PARAMS[method].safeParse(params);
  return parsed.success ? null : describeValidationError(method, parsed.error);
}

const filled = (n: number, make: (i: number) => string) => Array.from({ length: n }, (_, i) => make(i));
const record = (n: number, make: (i: number) => [string, string]) =>
  Object.fromEntries(filled(n, (i) => make(i)[0]).map((k, i) => [k, make(i)[1]]));

describe("request caps", () => {
  const cases: Array<{
    what: string;
    method: Method;
    atLimit: unknown;
    over: unknown;
    field: string;
    constant: string;
    fix: RegExp;
  }> = [
    {
      what: "command bytes",
      method: "spawn",
      atLimit: { command: "c".repeat(L.commandBytes) },
      over: { command: "é".repeat(L.commandBytes / 2 + 1) },
      field: "params.command",
      constant: "commandBytes",
      fix: /Fix: name a program/,
    },
    {
      what: "args count",
      method: "spawn",
      atLimit: { command: "x", args: filled(L.argsCount, () => "a") },
      over: { command: "x", args: filled(L.argsCount + 1, () => "a") },
      field: "params.args",
      constant: "argsCount",
      fix: /Fix: pass bulk arguments through a file or stdin/,
    },
    {
      what: "one argument's bytes",
      method: "spawn",
      atLimit: { command: "x", args: ["a".repeat(L.argBytes)] },
      over: { command: "x", args: ["ok", "a".repeat(L.argBytes + 1)] },
      field: "params.args.1",
      constant: "argBytes",
      fix: /Fix: pass long data through a file or stdin/,
    },
    {
      what: "args total bytes",
      method: "spawn",
      atLimit: { command: "x", args: filled(8, () => "a".repeat(L.argsTotalBytes / 8)) },
      over: { command: "x", args: filled(9, () => "a".repeat(L.argsTotalBytes / 8)) },
      field: "params.args",
      constant: "argsTotalBytes",
      fix: /Fix: pass bulk arguments/,
    },
    {
      what: "env count",
      method: "spawn",
      atLimit: { command: "x", env: record(L.envCount, (i) => [`V${i}`, "1"]) },
      over: { command: "x", env: record(L.envCount + 1, (i) => [`V${i}`, "1"]) },
      field: "params.env",
      constant: "envCount",
      fix: /Fix: pass configuration through a file/,
    },
    {
      what: "env total bytes",
      method: "spawn",
      atLimit: { command: "x", env: { A: "v".repeat(L.envTotalBytes - 2) } },
      over: { command: "x", env: { A: "v".repeat(L.envTotalBytes - 1) } },
      field: "params.env",
      constant: "envTotalBytes",
      fix: /Fix: pass configuration through a file/,
    },
    {
      what: "labels count",
      method: "spawn",
      atLimit: { command: "x", labels: record(L.labelsCount, (i) => [`k${i}`, "v"]) },
      over: { command: "x", labels: record(L.labelsCount + 1, (i) => [`k${i}`, "v"]) },
      field: "params.labels",
      constant: "labelsCount",
      fix: /Fix: keep labels for selection/,
    },
    {
      what: "label value length",
      method: "list",
      atLimit: { labels: { k: "v".repeat(L.labelValueLength) } },
      over: { labels: { k: "v".repeat(L.labelValueLength + 1) } },
      field: "params.labels.k",
      constant: "labelValueLength",
      fix: /Fix: keep bulk data out of labels/,
    },
    {
      what: "cwd bytes",
      method: "spawn",
      atLimit: { command: "x", cwd: `/${"d".repeat(L.cwdBytes - 1)}` },
      over: { command: "x", cwd: `/${"d".repeat(L.cwdBytes)}` },
      field: "params.cwd",
      constant: "cwdBytes",
      fix: /Fix: use a shorter path/,
    },
    {
      what: "stdin write bytes",
      method: "control",
      atLimit: { agentId: "a", action: "write", data: new Uint8Array(L.writeBytes) },
      over: { agentId: "a", action: "write", data: "w".repeat(L.writeBytes + 1) },
      field: "params.data",
      constant: "writeBytes",
      fix: /Fix: write stdin in several requests/,
    },
    {
      what: "agents per batch",
      method: "batchControl",
      atLimit: { agentIds: filled(L.batchAgents, (i) => `a${i}`), action: "kill" },
      over: { agentIds: filled(L.batchAgents + 1, (i) => `a${i}`), action: "kill" },
      field: "params.agentIds",
      constant: "batchAgents",
      fix: /Fix: split the batch/,
    },
    {
      what: "list page size",
      method: "list",
      atLimit: { limit: L.listPageSize },
      over: { limit: L.listPageSize + 1 },
      field: "params.limit",
      constant: "listPageSize",
      fix: /Fix: follow nextCursor/,
    },
    {
      what: "list cursor length",
      method: "list",
      atLimit: { cursor: "c".repeat(L.cursorLength) },
      over: { cursor: "c".repeat(L.cursorLength + 1) },
      field: "params.cursor",
      constant: "cursorLength",
      fix: /Fix: pass nextCursor as returned/,
    },
    {
      what: "output read size",
      method: "output",
      atLimit: { agentId: "a", limit: L.outputReadBytes },
      over: { agentId: "a", limit: L.outputReadBytes + 1 },
      field: "params.limit",
      constant: "outputReadBytes",
      fix: /Fix: read in pages/,
    },
  ];

  for (const c of cases) {
    it(`bounds ${c.what}: ${c.field} names the limit and the fix`, () => {
      expect(problem(c.method, c.atLimit)).toBeNull();
      const message = problem(c.method, c.over);
      expect(message).toContain(`invalid params for ${c.method}: ${c.field}: `);
      expect(message).toContain(`REQUEST_LIMITS.${c.constant}`);
      expect(message).toMatch(c.fix);
    });
  }

  it("bounds ids and names by length", () => {
    expect(problem("get", { agentId: "a".repeat(L.agentIdLength + 1) })).toContain(
      "REQUEST_LIMITS.agentIdLength",
    );
    expect(
      problem("spawn", { command: "x", idempotencyKey: "k".repeat(L.idempotencyKeyLength + 1) }),
    ).toContain("REQUEST_LIMITS.idempotencyKeyLength");
    expect(problem("spawn", { command: "x", name: "n".repeat(L.nameLength + 1) })).toContain(
      "REQUEST_LIMITS.nameLength",
    );
    expect(
      problem("control", { agentId: "a", action: "signal", signal: `SIG${"X".repeat(L.signalLength)}` }),
    ).toContain("REQUEST_LIMITS.signalLength");
    expect(problem("list", { status: filled(L.listStatuses + 1, () => "running") })).toContain(
      "REQUEST_LIMITS.listStatuses",
    );
  });
});

describe("client durations", () => {
  it("accept up to the longest timer Node honours and refuse 2^31 ms and more", () => {
    expect(L.durationMs).toBe(MAX_TIMER_MS);
    expect(MAX_TIMER_MS).toBe(2 ** 31 - 1);
    const duration: Array<{ method: Method; params: (ms: number) => unknown; field: string }> = [
      { method: "spawn", params: (ms) => ({ command: "x", timeoutMs: ms }), field: "params.timeoutMs" },
      {
        method: "control",
        params: (ms) => ({ agentId: "a", action: "stop", graceMs: ms }),
        field: "params.graceMs",
      },
      {
        method: "batchControl",
        params: (ms) => ({ agentIds: ["a"], action: "stop", graceMs: ms }),
        field: "params.graceMs",
      },
    ];
    for (const { method, params, field } of duration) {
      expect(problem(method, params(MAX_TIMER_MS))).toBeNull();
      for (const ms of [2 ** 31, 25 * 24 * 3_600_000, Number.MAX_SAFE_INTEGER]) {
        const message = problem(method, params(ms));
        expect(message).toContain(`${field}: at most ${MAX_TIMER_MS} ms`);
        expect(message).toContain("REQUEST_LIMITS.durationMs");
        expect(message).toContain("Fix: ");
      }
    }
  });
});
