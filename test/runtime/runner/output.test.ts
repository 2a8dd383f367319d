/**
 * Agent output: a per-stream ring buffer capped at outputCapBytes, read by absolute offsets or by tail,
 * streamed as chunks with offsets, and counted when the cap drops bytes.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { MAX_CHUNKS, OutputBuffer } from "../../../runtime/runner/output-buffer.js";
import { LAUNCHER_MODES, useLauncherMode, RunnerHarness } from "./helpers.js";

/** What `seq 1 2000` prints: 8,893 bytes. */
const SEQ_OUTPUT = Array.from({ length: 2000 }, (_, index) => `${index + 1}\n`).join("");
const CAP = 1000;

describe("OutputBuffer", () => {
  it("keeps the newest capBytes bytes and counts the dropped ones", () => {
    const buffer = new OutputBuffer(10);
    expect(buffer.append(Buffer.from("0123456"))).toBe(0);
    expect(buffer.append(Buffer.from("789abc"))).toBe(3);
    expect(buffer.total).toBe(13);
    expect(buffer.dropped).toBe(3);
    expect(buffer.read(0, 100)).toMatchObject({ offset: 3, nextOffset: 13, dropped: 3 });
    expect(buffer.read(0, 100).data.toString()).toBe("3456789abc");
  });

  it("keeps only the tail of a chunk larger than the cap", () => {
    const buffer = new OutputBuffer(4);
    expect(buffer.append(Buffer.from("abcdefgh"))).toBe(4);
    expect(buffer.read(0, 100).data.toString()).toBe("efgh");
    expect(buffer.read(0, 100).offset).toBe(4);
  });

  it("reads across chunk boundaries by absolute offset, limited by limit", () => {
    const buffer = new OutputBuffer(100);
    for (const part of ["ab", "cd", "ef", "gh"]) buffer.append(Buffer.from(part));
    expect(buffer.read(1, 5).data.toString()).toBe("bcdef");
    expect(buffer.read(1, 5).nextOffset).toBe(6);
    expect(buffer.read(8, 5)).toMatchObject({ offset: 8, nextOffset: 8 });
    expect(buffer.read(50, 5)).toMatchObject({ offset: 8, nextOffset: 8 });
    expect(buffer.readTail(3, 100).data.toString()).toBe("fgh");
    expect(buffer.readTail(3, 2).data.toString()).toBe("fg");
  });

  it("stays correct when many small chunks are merged", () => {
    const buffer = new OutputBuffer(150);
    let written = "";
    for (let index = 0; index < 500; index++) {
      const part = `${index % 10}`;
      written += part;
      buffer.append(Buffer.from(part));
    }
    expect(buffer.total).toBe(500);
    expect(buffer.read(0, 1000).data.toString()).toBe(written.slice(350));
    expect(buffer.read(420, 7).data.toString()).toBe(written.slice(420, 427));
  });

  it("keeps bulk chunks as they are, and still merges the tiny writes that follow them", () => {
    const KiB = 1024;
    const buffer = new OutputBuffer(64 * 1024 * KiB);
    for (let index = 0; index < 500; index++) buffer.append(Buffer.alloc(64 * KiB, index));
    // Nothing merged: no copy of bulk output, and what is held is what is kept.
    expect(buffer.chunkCount).toBe(500);
    expect(buffer.heldBytes).toBe(500 * 64 * KiB);
    for (let index = 0; index < 1_000; index++) buffer.append(Buffer.from("x"));
    expect(buffer.chunkCount).toBeLessThanOrEqual(500 + 2 * MAX_CHUNKS);
    expect(buffer.read(500 * 64 * KiB, 4 * KiB).data.toString()).toBe("x".repeat(1_000));
    expect(buffer.read(64 * KiB * 7, 3).data).toEqual(Buffer.from([7, 7, 7]));
  });

  it("merges neighbours of mixed sizes into at most MAX_CHUNKS chunks, keeping every byte in order", () => {
    const cap = 50_000;
    const buffer = new OutputBuffer(cap);
    let written = "";
    let seed = 7;
    for (let index = 0; index < 3_000; index++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      // Mostly tiny writes, now and then a large one.
      const size = seed % 50 === 0 ? 2_000 + (seed % 3_000) : 1 + (seed % 40);
      const part = String.fromCharCode(97 + (index % 26)).repeat(size);
      written += part;
      buffer.append(Buffer.from(part));
      expect(buffer.chunkCount).toBeLessThanOrEqual(MAX_CHUNKS);
    }
    const kept = written.slice(-cap);
    expect(buffer.total).toBe(written.length);
    expect(buffer.read(0, cap * 2).data.toString()).toBe(kept);
    expect(buffer.read(written.length - 5_000, 1_234).data.toString()).toBe(
      written.slice(written.length - 5_000, written.length - 5_000 + 1_234),
    );
    // Merged chunks are fresh allocations: what is held is what is kept, plus at most the trimmed front.
    expect(buffer.heldBytes).toBeGreaterThanOrEqual(cap);
    expect(buffer.heldBytes).toBeLessThan(cap * 2);
  });
});

describe.each(LAUNCHER_MODES)("with the %s launcher", (mode) => {
  beforeAll(() => useLauncherMode(mode));

  describe("agent output", () => {
    let h: RunnerHarness;

    afterEach(async () => {
      await h.dispose();
    });

    it("keeps stdout and stderr apart and reports eof once the agent has ended", async () => {
      h = await RunnerHarness.create();
      const info = await h.spawn({ command: "sh", args: ["-c", "printf out; printf err >&2"] });
      const ended = await h.waitForEnd(info.id);
      expect(ended.outputBytes).toEqual({ stdout: 3, stderr: 3 });
      expect(h.output({ agentId: info.id })).toMatchObject({
        stream: "stdout",
        offset: 0,
        nextOffset: 3,
        eof: true,
      });
      const err = h.output({ agentId: info.id, stream: "stderr" });
      expect(Buffer.from(err.data).toString()).toBe("err");
      expect(h.output({ agentId: info.id, offset: 1, limit: 1 })).toMatchObject({
        nextOffset: 2,
        eof: false,
      });
    });

    it("is not at eof while the agent runs, even when everything written has been read", async () => {
      h = await RunnerHarness.create();
      const info = await h.spawn({ command: "sh", args: ["-c", "echo hi; sleep 30"] });
      await h.waitForOutput(info.id, "hi");
      expect(h.output({ agentId: info.id })).toMatchObject({ nextOffset: 3, eof: false });
    });

    it("drops the oldest bytes beyond the cap, counts them, and reads by offset and tail", async () => {
      h = await RunnerHarness.create({ outputCapBytes: CAP });
      const info = await h.spawn({ command: "seq", args: ["1", "2000"] });
      const ended = await h.waitForEnd(info.id);
      const dropped = SEQ_OUTPUT.length - CAP;
      expect(ended.outputBytes.stdout).toBe(SEQ_OUTPUT.length);
      expect(ended.droppedBytes).toEqual({ stdout: dropped, stderr: 0 });
      expect(h.runner.droppedBytesTotal()).toBe(dropped);

      // An offset below the dropped count starts at the oldest kept byte, and says so.
      const fromStart = h.output({ agentId: info.id, offset: 0 });
      expect(fromStart).toMatchObject({ offset: dropped, nextOffset: SEQ_OUTPUT.length, dropped, eof: true });
      expect(Buffer.from(fromStart.data).toString()).toBe(SEQ_OUTPUT.slice(dropped));

      const middle = h.output({ agentId: info.id, offset: dropped + 100, limit: 50 });
      expect(middle).toMatchObject({ offset: dropped + 100, nextOffset: dropped + 150, eof: false });
      expect(Buffer.from(middle.data).toString()).toBe(SEQ_OUTPUT.slice(dropped + 100, dropped + 150));

      const tail = h.output({ agentId: info.id, tail: 10 });
      expect(Buffer.from(tail.data).toString()).toBe("1999\n2000\n");
      expect(tail).toMatchObject({ offset: SEQ_OUTPUT.length - 10, eof: true });
      expect(h.output({ agentId: info.id, tail: 5000 }).offset).toBe(dropped);
    });

    it("emits output_truncated once per stream, with the stream and the dropped count", async () => {
      h = await RunnerHarness.create({ outputCapBytes: CAP });
      const info = await h.spawn({ command: "sh", args: ["-c", "seq 1 2000; seq 1 2000 >&2"] });
      await h.waitForEnd(info.id);
      const truncations = h.lifecycleOf(info.id).filter((event) => event.type === "output_truncated");
      expect(truncations.map((event) => event.detail?.stream).sort()).toEqual(["stderr", "stdout"]);
      for (const event of truncations) {
        expect(event.detail?.droppedBytes).toBeGreaterThan(0);
        expect(event.detail?.capBytes).toBe(CAP);
      }
      const seqs = h.lifecycleOf(info.id).map((event) => event.seq);
      expect(seqs).toEqual(seqs.map((_, index) => index + 1));
      expect(h.lifecycleOf(info.id).at(-1)?.type).toBe("exited");
    });

    it("streams every chunk with its absolute offset, before the agent's final status", async () => {
      h = await RunnerHarness.create({ outputCapBytes: CAP });
      const info = await h.spawn({ command: "seq", args: ["1", "2000"] });
      await h.waitForEnd(info.id);
      const mine = h.stream.filter((event) =>
        event.kind === "output" ? event.agentId === info.id : event.agent.id === info.id,
      );
      const chunks = mine.flatMap((event) => (event.kind === "output" ? [event] : []));
      let expected = 0;
      for (const chunk of chunks) {
        expect(chunk.offset).toBe(expected);
        expected += chunk.data.length;
      }
      expect(Buffer.concat(chunks.map((chunk) => chunk.data)).toString()).toBe(SEQ_OUTPUT);
      expect(mine.at(-1)).toMatchObject({ kind: "status", agent: { status: "exited" } });
    });
  });
});
