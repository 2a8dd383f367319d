/**
 * The memory budget: output of running and finished agents and retained agent records (with params)
 * are charged against one budget, derived from the cgroup memory limit unless configured; past it the
 * oldest retained data goes first: finished agents' output, then finished agents' records, then the
 * oldest bytes of running agents' output.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ProtocolError } from "../../../runtime/protocol/index.js";
import {
  DEFAULT_BUDGET_SHARE,
  EVICTION_TARGET_SHARE,
  containerMemoryLimit,
  estimateRecordBytes,
  resolveMemoryBudget,
} from "../../../runtime/runner/memory-budget.js";
import { OutputBuffer } from "../../../runtime/runner/output-buffer.js";
import {
  LIST_PAGE_MAX_RECORD_BYTES,
  RUNNING_OUTPUT_FLOOR_BYTES,
  waterLevel,
} from "../../../runtime/runner/process-runner.js";
import { RunnerHarness, waitFor } from "./helpers.js";

const MiB = 1024 * 1024;

/**
 * Starts `count` agents that each write 3 MiB and a newline, then wait to be stopped (so all of it
 * is running output); resolves with their ids once every byte is written.
 */
async function startWriters(h: RunnerHarness, count: number): Promise<string[]> {
  const script = `head -c ${3 * MiB} /dev/zero; echo; sleep 60`;
  const ids = await Promise.all(
    Array.from({ length: count }, async () => (await h.spawn({ command: "sh", args: ["-c", script] })).id),
  );
  await waitFor(`all ${count} writers to have written their output`, () =>
    ids.every((id) => h.runner.get(id).outputBytes.stdout === 3 * MiB + 1),
  );
  return ids;
}

describe("deriving the budget", () => {
  const dir = mkdtempSync(join(tmpdir(), "zeroplane-cgroup-"));
  const files = { v2: join(dir, "memory.max"), v1: join(dir, "memory.limit_in_bytes") };
  afterEach(() => {
    rmSync(files.v2, { force: true });
    rmSync(files.v1, { force: true });
  });

  it("takes the documented share of the cgroup v2 memory.max", () => {
    writeFileSync(files.v2, `${512 * MiB}\n`);
    expect(containerMemoryLimit(files)).toEqual({ bytes: 512 * MiB, file: files.v2 });
    const budget = resolveMemoryBudget(0, files);
    expect(budget.bytes).toBe(Math.floor(512 * MiB * DEFAULT_BUDGET_SHARE));
    expect(budget.source).toContain(files.v2);
  });

  it("falls back to cgroup v1 memory.limit_in_bytes, and treats its huge 'unlimited' value as no limit", () => {
    writeFileSync(files.v1, `${256 * MiB}\n`);
    expect(resolveMemoryBudget(undefined, files).bytes).toBe(Math.floor(256 * MiB * DEFAULT_BUDGET_SHARE));
    writeFileSync(files.v1, "9223372036854771712\n");
    expect(containerMemoryLimit(files)).toBeNull();
  });

  it("without a limit ('max' or no file) takes the share of the machine's memory", () => {
    writeFileSync(files.v2, "max\n");
    expect(containerMemoryLimit(files)).toBeNull();
    expect(resolveMemoryBudget(0, files).source).toMatch(/no container memory limit found/);
  });

  it("uses the configured number when it is above 0", () => {
    writeFileSync(files.v2, `${512 * MiB}\n`);
    expect(resolveMemoryBudget(3 * MiB, files)).toMatchObject({ bytes: 3 * MiB });
  });

  it("charges a record for its params as UTF-16 strings plus a fixed overhead", () => {
    const small = estimateRecordBytes({ command: "true", args: [], labels: {} });
    const big = estimateRecordBytes({ command: "true", args: ["x".repeat(MiB)], labels: {} });
    expect(big - small).toBeGreaterThanOrEqual(2 * MiB);
  });
});

describe("OutputBuffer under the budget", () => {
  it("trimTo drops the oldest bytes, counts them as dropped, and frees the memory they pinned", () => {
    const buffer = new OutputBuffer(MiB);
    for (let index = 0; index < 100; index++) buffer.append(Buffer.alloc(10_000, index % 256));
    // 100 chunks merged into one allocation once past 64 chunks.
    const heldBefore = buffer.heldBytes;
    expect(heldBefore).toBe(1_000_000);
    expect(buffer.trimTo(1000)).toBe(999_000);
    expect(buffer.kept).toBe(1000);
    expect(buffer.heldBytes).toBe(1000);
    expect(buffer.dropped).toBe(999_000);
    expect(buffer.read(0, 10).offset).toBe(999_000);
  });
});

describe("waterLevel", () => {
  it("finds the highest common level that frees the bytes asked for", () => {
    expect(waterLevel([1, 5, 10], 6)).toBe(4); // frees 1 + 6
    expect(waterLevel([1, 5, 10], 0)).toBe(10);
    expect(waterLevel([1, 5, 10], 100)).toBe(0);
    expect(waterLevel([8, 8, 8, 8], 8)).toBe(6);
    expect(waterLevel([], 8)).toBe(0);
  });
});

describe("a runner over its memory budget", () => {
  let h: RunnerHarness;
  afterEach(async () => {
    await h.dispose();
  });

  /** `head -c bytes /dev/zero`: an agent that writes `bytes` of output and exits. */
  const writer = (bytes: number) => ({ command: "head", args: ["-c", String(bytes), "/dev/zero"] });

  it("evicts finished agents' output first, oldest first, and reads of it report the bytes as dropped", async () => {
    h = await RunnerHarness.create({ memoryBudgetBytes: 4 * MiB, outputCapBytes: 2 * MiB });
    const ids: string[] = [];
    for (let index = 0; index < 4; index++) {
      const agent = await h.spawn(writer(MiB));
      ids.push(agent.id);
      await h.waitForEnd(agent.id);
    }
    const budget = h.runner.memoryBudget();
    expect(budget.limitBytes).toBe(4 * MiB);
    expect(budget.usedBytes).toBeLessThanOrEqual(4 * MiB);
    expect(budget.evictedBytes.finished_output).toBeGreaterThanOrEqual(MiB);
    expect(budget.evictedBytes.finished_record).toBe(0);
    // The oldest agent's output went; its record stays and says so.
    const oldest = h.output({ agentId: ids[0]!, limit: MiB });
    expect(oldest.data.length).toBe(0);
    expect(oldest).toMatchObject({ offset: MiB, nextOffset: MiB, dropped: MiB, eof: true });
    expect(h.runner.get(ids[0]!).droppedBytes.stdout).toBe(MiB);
    // The newest agent's output is whole.
    expect(h.output({ agentId: ids[3]!, limit: 2 * MiB }).data.length).toBe(MiB);
  });

  it("then evicts finished agents' records, so failed spawns with big params cannot pile up", async () => {
    const budgetBytes = 2 * MiB;
    h = await RunnerHarness.create({ memoryBudgetBytes: budgetBytes });
    const args = Array.from({ length: 8 }, () => "a".repeat(16 * 1024));
    const recordBytes = estimateRecordBytes({ command: "/nonexistent/zeroplane-missing", args, labels: {} });
    const ids: string[] = [];
    for (let index = 0; index < 40; index++) {
      const agent = await h.spawn({ command: "/nonexistent/zeroplane-missing", args });
      expect(agent.status).toBe("failed");
      ids.push(agent.id);
    }
    const budget = h.runner.memoryBudget();
    expect(budget.usedBytes).toBeLessThanOrEqual(budgetBytes);
    expect(budget.evictedRecords).toBeGreaterThan(0);
    expect(budget.evictedBytes.finished_record).toBe(budget.evictedRecords * recordBytes);
    const kept = h.list({ limit: 1000 });
    expect(kept.total).toBe(40 - budget.evictedRecords);
    expect(kept.total * recordBytes).toBeLessThanOrEqual(budgetBytes);
    // The oldest went first; the newest is still there.
    expect(() => h.runner.get(ids[0]!)).toThrow(ProtocolError);
    expect(() => h.runner.get(ids[0]!)).toThrow(/evicted early to keep the server under its memory budget/);
    expect(h.runner.get(ids[39]!).args).toEqual(args);
  });

  it("trims running agents' output to an equal share when the running agents alone pass the budget", async () => {
    const budgetBytes = 4 * MiB;
    h = await RunnerHarness.create({ memoryBudgetBytes: budgetBytes, outputCapBytes: 8 * MiB });
    const ids = await startWriters(h, 4);
    const budget = h.runner.memoryBudget();
    expect(budget.usedBytes).toBeLessThanOrEqual(budgetBytes);
    expect(budget.evictedBytes.running_output).toBeGreaterThanOrEqual(12 * MiB - budgetBytes);
    for (const id of ids) {
      const info = h.runner.get(id);
      expect(info.status).toBe("running");
      // Every stream keeps its newest bytes: the final newline is still readable.
      expect(h.output({ agentId: id, tail: 1, limit: 1 }).data.toString()).toBe("\n");
      expect(info.droppedBytes.stdout).toBeGreaterThan(0);
    }
    expect(budget.usedBytes).toBeGreaterThan(0);
    expect(EVICTION_TARGET_SHARE).toBeLessThan(1);
  });
});

describe("a runner whose running agents pass the budget", () => {
  let h: RunnerHarness;
  afterEach(async () => {
    await h.dispose();
  });

  it("trims running output down to the floor before it evicts any finished agent's record", async () => {
    const budgetBytes = 2 * MiB;
    h = await RunnerHarness.create({ memoryBudgetBytes: budgetBytes, outputCapBytes: 8 * MiB });
    const finished: string[] = [];
    for (let index = 0; index < 5; index++) {
      finished.push((await h.spawn({ command: "/nonexistent/zeroplane-missing" })).id);
    }
    const running = await startWriters(h, 2);
    const budget = h.runner.memoryBudget();
    expect(budget.usedBytes).toBeLessThanOrEqual(budgetBytes);
    expect(budget.evictedRecords).toBe(0);
    expect(budget.evictedBytes.running_output).toBeGreaterThanOrEqual(6 * MiB - budgetBytes);
    for (const id of finished) expect(h.runner.get(id).status).toBe("failed");
    for (const id of running) {
      const kept = h.output({ agentId: id, limit: 8 * MiB }).data.length;
      expect(kept).toBeGreaterThanOrEqual(RUNNING_OUTPUT_FLOOR_BYTES);
      expect(kept).toBeLessThan(budgetBytes);
    }
  });
});

describe("list", () => {
  let h: RunnerHarness;
  afterEach(async () => {
    await h.dispose();
  });

  it("ends a page once its agents' records reach the page byte bound, and the cursor resumes after it", async () => {
    h = await RunnerHarness.create({ memoryBudgetBytes: 256 * MiB });
    // Each record is about 1 MiB of params: 8 pages' worth of agents at most per page.
    const args = Array.from({ length: 8 }, () => "b".repeat(64 * 1024));
    const count = Math.ceil(
      (LIST_PAGE_MAX_RECORD_BYTES * 2) / estimateRecordBytes({ command: "x", args, labels: {} }),
    );
    for (let index = 0; index < count; index++) {
      await h.spawn({ command: "/nonexistent/zeroplane-missing", args });
    }
    const first = h.list({ limit: 1000 });
    expect(first.total).toBe(count);
    expect(first.agents.length).toBeLessThan(count);
    expect(first.nextCursor).not.toBeNull();
    const second = h.list({ limit: 1000, cursor: first.nextCursor! });
    const third = second.nextCursor ? h.list({ limit: 1000, cursor: second.nextCursor }) : { agents: [] };
    const seen = [...first.agents, ...second.agents, ...third.agents].map((agent) => agent.id);
    expect(new Set(seen).size).toBe(count);
  });
});
