import { describe, expect, it } from "vitest";
import {
  eventFilter,
  eventMessageId,
  eventSubject,
  subjectCovers,
  subjectToken,
} from "../../../runtime/events/subjects.js";

describe("event subjects and message ids", () => {
  it("publishes on <prefix>.<serverId>.<agentId>.<type> with id <serverId>.<agentId>.<seq>", () => {
    const event = { serverId: "srv-1", agentId: "a_7", type: "started" as const, seq: 2 };
    expect(eventSubject("agent.events", event)).toBe("agent.events.srv-1.a_7.started");
    expect(eventMessageId(event)).toBe("srv-1.a_7.2");
  });

  it("escapes characters that are not allowed in a subject token, one-to-one", () => {
    expect(subjectToken("abc-DEF_09")).toBe("abc-DEF_09");
    expect(subjectToken("a.b")).toBe("a~2eb");
    expect(subjectToken("a*b>c d")).toBe("a~2ab~3ec~20d");
    expect(subjectToken("~2e")).toBe("~7e2e");
    expect(subjectToken("é")).toBe("~c3~a9");
    expect(subjectToken("a.b")).not.toBe(subjectToken("a~2eb"));
  });

  it("builds consumer filters with wildcards for the parts left out", () => {
    expect(eventFilter("agent.events", {})).toBe("agent.events.>");
    expect(eventFilter("agent.events", { serverId: "s1" })).toBe("agent.events.s1.*.*");
    expect(eventFilter("agent.events", { agentId: "x.y", type: "exited" })).toBe(
      "agent.events.*.x~2ey.exited",
    );
  });

  it("knows which stream subjects cover ours", () => {
    expect(subjectCovers("agent.events.>", "agent.events.>")).toBe(true);
    expect(subjectCovers("agent.>", "agent.events.>")).toBe(true);
    expect(subjectCovers(">", "agent.events.>")).toBe(true);
    expect(subjectCovers("*.events.>", "agent.events.>")).toBe(true);
    expect(subjectCovers("agent.events.*", "agent.events.>")).toBe(false);
    expect(subjectCovers("agent.events.*.*.*", "agent.events.>")).toBe(false);
    expect(subjectCovers("other.>", "agent.events.>")).toBe(false);
    expect(subjectCovers("agent.events", "agent.events.>")).toBe(false);
  });
});
