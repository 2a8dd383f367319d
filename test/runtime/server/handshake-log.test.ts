/**
 * Repeated handshake and auth failures: metrics count every one, the log gets at most one line per
 * kind per interval (libzmq retries a client with the wrong server key about every 100 ms).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../../runtime/observability/logger.js";
import { generateKeypair, writeKeypair } from "../../../runtime/security/keys.js";
import { FAILURE_LOG_INTERVAL_MS, FailureLog } from "../../../runtime/server/sockets.js";
import { metricValue, startTestServer, type TestServer } from "./harness.js";
import { waitFor } from "../../support/wait.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function capturingLogger(): {
  logger: ReturnType<typeof createLogger>;
  lines: Array<Record<string, unknown>>;
} {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { logger: createLogger({ level: "info", destination }), lines };
}

async function curveServer(): Promise<{ t: TestServer; serverPublicKey: string }> {
  const dir = mkdtempSync(join(tmpdir(), "zeroplane-handshake-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const keys = writeKeypair(join(dir, "curve"));
  const allowlistFile = join(dir, "allowlist.txt");
  writeFileSync(allowlistFile, `${generateKeypair().publicKey}\n`);
  const t = await startTestServer({
    security: { curve: true, secretKeyFile: keys.secretKeyFile, allowlistFile },
  });
  cleanups.push(() => t.stop());
  return { t, serverPublicKey: keys.publicKey };
}

const lines = (t: TestServer, message: string) =>
  t.logLines.filter((line) => line.includes(`"msg":"${message}"`));

describe("failure log", () => {
  it("logs the first failure of a kind at once, then one line per interval saying how many it left out", async () => {
    const { logger, lines: logged } = capturingLogger();
    let now = 1_000;
    const log = new FailureLog(logger, FAILURE_LOG_INTERVAL_MS, () => now);
    for (let i = 0; i < 50; i++)
      log.record("info", "handshake:x", { reason: "x" }, "client handshake failed");
    log.record("warn", "zap:not-allowlisted", { reason: "not-allowlisted" }, "client refused by ZAP");
    now += FAILURE_LOG_INTERVAL_MS - 1;
    log.record("info", "handshake:x", { reason: "x" }, "client handshake failed");
    await new Promise((resolve) => setImmediate(resolve));
    expect(logged.map((line) => line.msg)).toEqual(["client handshake failed", "client refused by ZAP"]);
    now += 1;
    log.record("info", "handshake:x", { reason: "x" }, "client handshake failed");
    await new Promise((resolve) => setImmediate(resolve));
    expect(logged).toHaveLength(3);
    expect(logged[2]).toMatchObject({ msg: "client handshake failed", reason: "x", suppressed: 50 });
  });

  it("counts every retry of a client with the wrong server key, and logs it once", async () => {
    const { t } = await curveServer();
    const client = t.client({ ...generateKeypair(), serverPublicKey: generateKeypair().publicKey });
    void client.call("health", {}, 5_000).catch(() => undefined);
    const failures = await waitFor(
      "ten handshake retries",
      async () => {
        const count = metricValue(await t.metricsText(), "zeroplane_handshake_failures_total");
        return count >= 10 ? count : 0;
      },
      20_000,
    );
    expect(failures).toBeGreaterThanOrEqual(10);
    expect(lines(t, "client handshake failed")).toHaveLength(1);
  });

  it("counts every ZAP refusal, and logs one line for a burst of them", async () => {
    const { t, serverPublicKey } = await curveServer();
    for (let i = 0; i < 20; i++) {
      const client = t.client({ ...generateKeypair(), serverPublicKey });
      void client.call("health", {}, 3_000).catch(() => undefined);
    }
    await waitFor(
      "twenty refusals",
      async () =>
        metricValue(await t.metricsText(), "zeroplane_auth_rejections_total", {
          reason: "not-allowlisted",
        }) >= 20,
      20_000,
    );
    expect(lines(t, "client refused by ZAP")).toHaveLength(1);
  });
});
