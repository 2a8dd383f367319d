import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { HTTP_PATHS } from "../../../runtime/config/index.js";
import { createLogger } from "../../../runtime/observability/logger.js";
import { methodLabel } from "../../../runtime/observability/metrics.js";
import { generateKeypair } from "../../../runtime/security/keys.js";
import { metricValue, startTestServer, type TestServer } from "../server/harness.js";
import { spawnTermIgnoringAgent } from "../../support/term-ignoring-agent.js";

let current: TestServer | null = null;
afterEach(async () => {
  await current?.stop();
  current = null;
});

function captureLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  return { lines, logger: createLogger({ level: "info", destination, bindings: { serverId: "s1" } }) };
}

describe("logging", () => {
  it("writes JSON lines with level, time, service and version", () => {
    const { lines, logger } = captureLogger();
    logger.info({ agents: 3 }, "hello");
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: "info",
      msg: "hello",
      agents: 3,
      service: "zeroplane",
      serverId: "s1",
    });
    expect(typeof entry.time).toBe("string");
    expect(typeof entry.version).toBe("string");
  });

  it("redacts key fields, at the top level and nested", () => {
    const { lines, logger } = captureLogger();
    const keys = generateKeypair();
    logger.info(
      {
        secretKey: keys.secretKey,
        security: { secretKey: keys.secretKey },
        config: { security: { publicKey: keys.publicKey } },
      },
      "oops",
    );
    expect(lines.join("")).not.toContain(keys.secretKey);
    expect(lines.join("")).not.toContain(keys.publicKey);
    expect(lines.join("")).toContain("[redacted]");
  });
});

describe("metrics labels", () => {
  it("maps method names from the wire onto a fixed set", () => {
    expect(methodLabel("spawn")).toBe("spawn");
    expect(methodLabel("drop table")).toBe("unknown");
    expect(methodLabel(42)).toBe("unknown");
  });
});

describe("the observability port", () => {
  it("serves /healthz, /readyz and /metrics, and 404 elsewhere", async () => {
    current = await startTestServer();
    const http = current.server.endpoints.http;
    expect((await fetch(`${http}${HTTP_PATHS.healthz}`)).status).toBe(200);
    expect((await fetch(`${http}${HTTP_PATHS.readyz}`)).status).toBe(200);
    expect((await fetch(`${http}/secrets`)).status).toBe(404);
    expect((await fetch(`${http}${HTTP_PATHS.metrics}`, { method: "POST" })).status).toBe(405);

    const client = current.client();
    await client.request("health", {});
    const agent = await client.request("spawn", { command: "sleep", args: ["30"] });
    await client.call("get", { agentId: "missing" });
    const metrics = await fetch(`${http}${HTTP_PATHS.metrics}`);
    expect(metrics.headers.get("content-type")).toContain("text/plain");
    const text = await metrics.text();
    expect(metricValue(text, "zeroplane_requests_total", { method: "health", result: "ok" })).toBe(1);
    expect(metricValue(text, "zeroplane_requests_total", { method: "get", result: "NOT_FOUND" })).toBe(1);
    expect(metricValue(text, "zeroplane_request_duration_seconds_count", { method: "spawn" })).toBe(1);
    expect(metricValue(text, "zeroplane_agents", { status: "running" })).toBe(1);
    expect(metricValue(text, "zeroplane_spawns_total")).toBe(1);
    expect(metricValue(text, "zeroplane_spawn_failures_total")).toBe(0);
    expect(text).toContain("zeroplane_auth_rejections_total");
    expect(text).toContain("zeroplane_output_bytes_dropped_total");
    expect(text).toContain("zeroplane_allowlist_revocations_total 0");
    expect(text).toContain("zeroplane_connection_recycles_total 0");
    expect(metricValue(text, "process_resident_memory_bytes")).toBeGreaterThan(0);
    await client.request("control", { agentId: agent.id, action: "kill" });
  });

  it("fails /readyz as soon as draining starts, while /healthz stays up", async () => {
    // The drain lasts while an agent ignores SIGTERM (up to stopGraceMs); the test ends it with a kill.
    current = await startTestServer({ runner: { stopGraceMs: 20_000 } });
    const client = current.client();
    // Until sh has installed its trap, SIGTERM would end the agent, the drain and the HTTP port at once.
    const agent = await spawnTermIgnoringAgent(client);
    const http = current.server.endpoints.http;
    const draining = current.server.shutdown();
    const ready = await fetch(`${http}${HTTP_PATHS.readyz}`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toContain("draining");
    expect((await fetch(`${http}${HTTP_PATHS.healthz}`)).status).toBe(200);
    expect(current.server.draining()).toBe(true);
    await client.request("control", { agentId: agent.id, action: "kill" });
    await draining;
  });
});
