import { afterEach, describe, expect, it } from "vitest";
import { STREAM_TOPICS } from "../../../runtime/protocol/index.js";
import { startTestServer, type TestServer } from "./harness.js";
import { StreamCollector } from "./wire-client.js";
import { waitFor } from "../../support/wait.js";

let current: TestServer | null = null;
const collectors: StreamCollector[] = [];
afterEach(async () => {
  await Promise.all(collectors.splice(0).map((collector) => collector.close()));
  await current?.stop();
  current = null;
});

describe("the PUB stream", () => {
  it("publishes status changes and output under status.<id> and output.<id> topics", async () => {
    current = await startTestServer();
    const c = current.client();
    const collector = new StreamCollector(current.server.endpoints.publish, [
      STREAM_TOPICS.allStatus,
      STREAM_TOPICS.allOutput,
    ]);
    collectors.push(collector);
    // A PUB socket drops messages until the subscription arrives: probe until one is seen.
    await waitFor(
      "the subscription to take effect",
      async () => {
        await c.request("spawn", { command: "true", labels: { probe: "yes" } });
        await new Promise((resolve) => setTimeout(resolve, 100));
        return collector.events.length > 0;
      },
      15_000,
    );

    const agent = await c.request("spawn", { command: "sh", args: ["-c", "printf streamed"] });
    await waitFor(
      "the exited status event",
      () =>
        collector.events.some(
          (e) =>
            e.topic === STREAM_TOPICS.status(agent.id) &&
            (e.event.agent as { status: string }).status === "exited",
        ),
      15_000,
    );
    const statuses = collector.events
      .filter((e) => e.topic === STREAM_TOPICS.status(agent.id))
      .map((e) => (e.event.agent as { status: string }).status);
    expect(statuses).toContain("running");
    expect(statuses[statuses.length - 1]).toBe("exited");
    const exited = collector.events.find(
      (e) =>
        e.topic === STREAM_TOPICS.status(agent.id) &&
        (e.event.agent as { status: string }).status === "exited",
    )!;
    expect(exited.event).toMatchObject({ kind: "status", previous: "running" });

    await waitFor(
      "output",
      () => collector.events.some((e) => e.topic === STREAM_TOPICS.output(agent.id)),
      10_000,
    );
    const output = collector.events.filter((e) => e.topic === STREAM_TOPICS.output(agent.id));
    const text = output.map((e) => Buffer.from(e.event.data as Uint8Array).toString()).join("");
    expect(text).toBe("streamed");
    expect(output[0]!.event).toMatchObject({
      kind: "output",
      agentId: agent.id,
      stream: "stdout",
      offset: 0,
    });
  });
});
