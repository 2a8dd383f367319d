/** The write-time index of an output stream and the line stamper of `logs --timestamps`. */
import { describe, expect, it } from "vitest";
import { LineStamper } from "../../../runtime/cli/line-times.js";
import { MAX_TIME_MARKS, OutputBuffer } from "../../../runtime/runner/output-buffer.js";

describe("output write times", () => {
  it("records when each write came, finds the offset since a time, and returns the times of a read", () => {
    const buffer = new OutputBuffer(1024);
    buffer.append(Buffer.from("aaaa\n"), 1000);
    buffer.append(Buffer.from("bb"), 2000);
    buffer.append(Buffer.from("b\n"), 2000); // Same millisecond: no new mark.
    buffer.append(Buffer.from("cc\n"), 3000);
    expect(buffer.offsetSince(0)).toBe(0);
    expect(buffer.offsetSince(1500)).toBe(5);
    expect(buffer.offsetSince(3000)).toBe(9);
    expect(buffer.offsetSince(3001)).toBe(12);
    expect(buffer.read(6, 100).times).toEqual([
      [6, 2000],
      [9, 3000],
    ]);
    expect(buffer.read(0, 5).times).toEqual([[0, 1000]]);
  });

  it("forgets the times of dropped bytes and keeps a bounded number", () => {
    const buffer = new OutputBuffer(10);
    for (let i = 0; i < 10; i++) buffer.append(Buffer.from("xxxx"), 1000 + i);
    const read = buffer.read(0, 100);
    expect(read.offset).toBe(30);
    expect(read.times[0]).toEqual([30, 1007]);
    const many = new OutputBuffer(1 << 20);
    for (let i = 0; i < MAX_TIME_MARKS * 4; i++) many.append(Buffer.from("y"), 1000 + i);
    const times = many.read(0, 1 << 20).times;
    expect(times.length).toBeLessThanOrEqual(MAX_TIME_MARKS);
    expect(times.length).toBeGreaterThan(MAX_TIME_MARKS / 4);
    // Coarser, never later than the write: each byte's time is at most its own.
    for (const [offset, time] of times) expect(time).toBeLessThanOrEqual(1000 + offset);
  });

  it("stamps lines that reads split anywhere with the time of their first byte", () => {
    const stamper = new LineStamper();
    const iso = (ms: number) => new Date(ms).toISOString();
    const first = stamper.stamp({
      data: Buffer.from("one\ntw"),
      offset: 0,
      times: [
        [0, 1000],
        [4, 2000],
      ],
    });
    const second = stamper.stamp({ data: Buffer.from("o\nthree\n"), offset: 6, times: [[6, 3000]] });
    expect(first + second).toBe(`${iso(1000)} one\n${iso(2000)} two\n${iso(3000)} three\n`);
  });
});
