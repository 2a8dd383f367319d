/**
 * `logs --timestamps`: puts the time each line was written (from the server's write times,
 * OutputResult.times) in front of it, across reads that split lines anywhere.
 */
import type { OutputResult } from "../protocol/index.js";

export class LineStamper {
  private atLineStart = true;
  /** The latest write time seen, for a read that brings no times of its own. */
  private lastTime: number | null = null;

  /** The chunk's text with `<ISO time> ` before every line that starts in it. */
  stamp(chunk: Pick<OutputResult, "data" | "offset" | "times">): string {
    const text = Buffer.from(chunk.data).toString("utf8");
    const times = chunk.times ?? [];
    let mark = 0;
    const timeAt = (offset: number): string => {
      while (mark < times.length && times[mark]![0] <= offset) this.lastTime = times[mark++]![1];
      return this.lastTime === null ? "-".padEnd(24) : new Date(this.lastTime).toISOString();
    };
    let out = "";
    let byteOffset = chunk.offset;
    for (const line of text.split(/(?<=\n)/)) {
      if (this.atLineStart) out += `${timeAt(byteOffset)} `;
      out += line;
      byteOffset += Buffer.byteLength(line);
      this.atLineStart = line.endsWith("\n");
    }
    return out;
  }
}
