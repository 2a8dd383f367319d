import type { NatsConnection } from "nats";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseSince, register, tailEvents, type TailedEvent } from "../../../runtime/cli/commands/events.js";
import type { EventsService } from "../../../runtime/events/index.js";
import { startNats, type NatsCluster } from "../../support/nats.js";
import {
  agentLife,
  eventsConfig,
  lifecycleEvent,
  natsClient,
  tempDir,
  startPublishing,
  tearDown,
  waitForNats,
} from "./helpers.js";

describe("zeroplane events", () => {
  let nats: NatsCluster;
  let stateDir: string;
  let service: EventsService;
  let client: NatsConnection;

  async function tail(options: Partial<Parameters<typeof tailEvents>[0]> = {}): Promise<TailedEvent[]> {
    const lines: string[] = [];
    await tailEvents(
      { nats: eventsConfig(nats.urls, stateDir).nats, follow: false, json: true, ...options },
      (line) => lines.push(line),
    );
    return lines.map((line) => JSON.parse(line) as TailedEvent);
  }

  beforeAll(async () => {
    nats = await startNats();
    stateDir = tempDir();
    client = await natsClient(nats.urls);
    service = await startPublishing(eventsConfig(nats.urls, stateDir));
    for (const event of [...agentLife("srv-a", "agent-1"), ...agentLife("srv-b", "agent-2")])
      service.publish(event);
    expect(await service.whenDrained(20_000)).toBe(true);
  });

  afterAll(async () => {
    await tearDown({ services: [service], client, nats, stateDir });
  });

  it("prints every stored event in stream order when not following", async () => {
    const events = await tail();
    expect(events.map((e) => e.streamSeq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events[0]).toMatchObject({ subject: "agent.events.srv-a.agent-1.spawned", event: { seq: 1 } });
  });

  it("filters by server, agent and type", async () => {
    expect((await tail({ serverId: "srv-b" })).map((e) => e.event.agentId)).toEqual([
      "agent-2",
      "agent-2",
      "agent-2",
    ]);
    expect((await tail({ agentId: "agent-1", type: "exited" })).map((e) => e.streamSeq)).toEqual([3]);
    expect(await tail({ serverId: "srv-zzz" })).toEqual([]);
  });

  it("replays from a stream sequence and from a time", async () => {
    expect((await tail({ fromSeq: 5 })).map((e) => e.streamSeq)).toEqual([5, 6]);
    expect((await tail({ sinceMs: Date.now() + 60_000 })).length).toBe(0);
    expect((await tail({ sinceMs: Date.now() - 60_000 })).length).toBe(6);
  });

  it("follows new events until stopped", async () => {
    const lines: string[] = [];
    const abort = new AbortController();
    const following = tailEvents(
      {
        nats: eventsConfig(nats.urls, stateDir).nats,
        follow: true,
        json: false,
        agentId: "agent-3",
        signal: abort.signal,
      },
      (line) => lines.push(line),
    );
    // The ordered consumer delivers only what arrives after it starts: publish until it shows up.
    let seq = 0;
    await waitForNats(
      "a followed event",
      () => {
        service.publish(lifecycleEvent("srv-a", "agent-3", ++seq, "output_truncated"));
        return lines.length > 0;
      },
      30_000,
    );
    abort.abort();
    await following;
    expect(lines[0]).toMatch(
      /^\S+Z {2}#\d+ {2}srv-a {2}agent-3 {2}output_truncated {2}seq=\d+ status=running$/,
    );
  });

  it("explains bad flags", async () => {
    expect(() => parseSince("yesterday")).toThrow(
      /--since "yesterday" is neither a duration nor an ISO time/,
    );
    expect(parseSince("10m", 1_000_000)).toBe(1_000_000 - 600_000);
    expect(parseSince("2026-01-31T12:00:00Z")).toBe(Date.UTC(2026, 0, 31, 12));
    await expect(tail({ type: "exploded" })).rejects.toThrow(
      /--type "exploded" is not a lifecycle event type/,
    );
    await expect(tail({ fromSeq: 1, sinceMs: 0 })).rejects.toThrow(/give only one/);
  });

  it("runs from the command line: flags parsed, JSON lines on stdout", async () => {
    const program = new Command("zeroplane").exitOverride();
    register(program);
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      await program.parseAsync(
        [
          "events",
          "--nats-url",
          nats.urls[0]!,
          "--from-seq",
          "2",
          "--type",
          "started",
          "--no-follow",
          "--json",
        ],
        { from: "user" },
      );
    } finally {
      spy.mockRestore();
    }
    const events = written
      .join("")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as TailedEvent);
    expect(events.map((e) => [e.streamSeq, e.event.agentId])).toEqual([
      [2, "agent-1"],
      [5, "agent-2"],
    ]);
  });

  it("registers as a commander command with the replay and filter flags", () => {
    const program = new Command("zeroplane");
    register(program);
    const command = program.commands.find((c) => c.name() === "events");
    const flags = command?.options.map((option) => option.long);
    expect(flags).toEqual(
      expect.arrayContaining([
        "--from-seq",
        "--since",
        "--server-id",
        "--agent",
        "--type",
        "--json",
        "--no-follow",
        "--nats-url",
      ]),
    );
  });
});
