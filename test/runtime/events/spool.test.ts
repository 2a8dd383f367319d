import { appendFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Spool } from "../../../runtime/events/spool.js";
import { cleanup, tempDir } from "./helpers.js";

const body = (text: string) => new TextEncoder().encode(text);
const texts = (records: { body: Buffer }[]) => records.map((r) => r.body.toString("utf8"));

describe("the on-disk event spool", () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir("zeroplane-spool-");
  });
  afterEach(() => cleanup(dir));

  /** Spools `records` and closes the spool; returns the path of its one segment file. */
  function writeSegment(...records: string[]): string {
    const spool = new Spool({ dir, maxBytes: 1 << 20 });
    for (const text of records) spool.append(body(text));
    spool.close();
    const segments = readdirSync(dir).filter((name) => name.endsWith(".seg"));
    expect(segments).toHaveLength(1);
    return join(dir, segments[0]!);
  }

  it("reads records back in order and forgets them once committed", () => {
    const spool = new Spool({ dir, maxBytes: 1 << 20 });
    for (const text of ["a", "bb", "ccc"]) spool.append(body(text));
    expect(spool.depthEvents()).toBe(3);
    expect(spool.depthBytes()).toBe(Spool.sizeOf(1) + Spool.sizeOf(2) + Spool.sizeOf(3));
    const records = spool.read(10);
    expect(texts(records)).toEqual(["a", "bb", "ccc"]);
    expect(spool.read(10)).toEqual([]);
    spool.commit(records[0]!);
    spool.rewind();
    expect(texts(spool.read(10))).toEqual(["bb", "ccc"]);
    expect(spool.depthEvents()).toBe(2);
    spool.close();
  });

  it("survives a reopen: uncommitted records come back, committed ones do not", () => {
    const first = new Spool({ dir, maxBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) first.append(body(`r${i}`));
    for (const record of first.read(4)) first.commit(record);
    first.close();
    const second = new Spool({ dir, maxBytes: 1 << 20 });
    expect(second.depthEvents()).toBe(6);
    expect(texts(second.read(100))).toEqual(["r4", "r5", "r6", "r7", "r8", "r9"]);
    second.close();
  });

  it("cuts off a torn or corrupt tail when reopened, keeping what came before", () => {
    const segment = writeSegment("kept-1", "kept-2");
    // A header promising 100 bytes, then only 3: a write cut short by a crash.
    const torn = Buffer.alloc(8);
    torn.writeUInt32LE(100, 0);
    appendFileSync(segment, Buffer.concat([torn, Buffer.from("abc")]));
    const problems: string[] = [];
    const second = new Spool({ dir, maxBytes: 1 << 20, onCorruption: (message) => problems.push(message) });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/torn or corrupt record at byte/);
    expect(texts(second.read(10))).toEqual(["kept-1", "kept-2"]);
    second.append(body("after"));
    second.rewind();
    expect(texts(second.read(10))).toEqual(["kept-1", "kept-2", "after"]);
    second.close();
  });

  it("rejects a record whose checksum does not match", () => {
    const path = writeSegment("good", "flipped");
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(path, bytes);
    const second = new Spool({ dir, maxBytes: 1 << 20, onCorruption: () => undefined });
    expect(texts(second.read(10))).toEqual(["good"]);
    second.close();
  });

  it("rotates segments and deletes the ones fully committed", async () => {
    const spool = new Spool({ dir, maxBytes: 1 << 20, segmentBytes: 100, commitIntervalMs: 1 });
    for (let i = 0; i < 50; i++) spool.append(body(`record-${String(i).padStart(3, "0")}`));
    spool.flush();
    expect(readdirSync(dir).filter((name) => name.endsWith(".seg")).length).toBeGreaterThan(5);
    for (const record of spool.read(45)) spool.commit(record);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(readdirSync(dir).filter((name) => name.endsWith(".seg")).length).toBeLessThanOrEqual(3);
    expect(texts(spool.read(100))).toEqual([
      "record-045",
      "record-046",
      "record-047",
      "record-048",
      "record-049",
    ]);
    spool.close();
    const reopened = new Spool({ dir, maxBytes: 1 << 20, segmentBytes: 100 });
    expect(reopened.depthEvents()).toBe(5);
    expect(texts(reopened.read(100))[0]).toBe("record-045");
    reopened.close();
  });

  it("drops the oldest records to make room, and ignores a late commit of a dropped record", () => {
    const size = Spool.sizeOf(4);
    const spool = new Spool({ dir, maxBytes: size * 3 });
    for (const text of ["r000", "r001", "r002"]) spool.append(body(text));
    const inFlight = spool.read(1);
    expect(spool.dropOldest(size)).toBe(1);
    spool.append(body("r003"));
    expect(spool.depthBytes()).toBe(size * 3);
    expect(spool.commit(inFlight[0]!)).toBe(false);
    expect(spool.depthEvents()).toBe(3);
    spool.rewind();
    expect(texts(spool.read(10))).toEqual(["r001", "r002", "r003"]);
    spool.close();
  });
});
