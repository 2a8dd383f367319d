import { describe, expect, it } from "vitest";
import { FollowBuffer } from "../../../runtime/client/follow-buffer.js";

const bytes = (text: string) => Buffer.from(text);
const text = (data: Uint8Array) => Buffer.from(data).toString();

describe("FollowBuffer", () => {
  it("hands back pieces that continue at the offset, trimming overlap and dropping what was read", () => {
    const buffer = new FollowBuffer(1024);
    buffer.push({ offset: 0, data: bytes("abc") });
    buffer.push({ offset: 3, data: bytes("def") });
    buffer.push({ offset: 6, data: bytes("ghi") });
    // A read by offset already covered "abcd": the first piece goes, the second is trimmed.
    const first = buffer.take(4);
    expect(first).not.toBe("gap");
    expect(first).toMatchObject({ offset: 4 });
    expect(text((first as { data: Uint8Array }).data)).toBe("ef");
    const second = buffer.take(6) as { offset: number; data: Uint8Array };
    expect(second.offset).toBe(6);
    expect(text(second.data)).toBe("ghi");
    expect(buffer.take(9)).toBeNull();
    expect(buffer.size).toBe(0);
  });

  it("reports a gap without consuming the pieces after it", () => {
    const buffer = new FollowBuffer(1024);
    buffer.push({ offset: 10, data: bytes("klm") });
    expect(buffer.continuesAt(5)).toBe(false);
    expect(buffer.take(5)).toBe("gap");
    expect(buffer.continuesAt(10)).toBe(true);
    expect(buffer.size).toBe(3);
    expect(text((buffer.take(10) as { data: Uint8Array }).data)).toBe("klm");
  });

  it("refuses pieces past its bound and keeps the ones it holds", () => {
    const buffer = new FollowBuffer(5);
    expect(buffer.push({ offset: 0, data: bytes("abcd") })).toBe(true);
    expect(buffer.push({ offset: 4, data: bytes("ef") })).toBe(false);
    expect(buffer.size).toBe(4);
    expect(() => new FollowBuffer(-1)).toThrow(/maxBytes must be an integer of at least 0, got -1/);
  });
});
