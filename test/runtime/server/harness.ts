/**
 * Starts a real agent server in this process for a test: loopback, ephemeral ports, its own state
 * directory, logs captured in memory. Everything is torn down by `stop()`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import {
  loadConfig,
  type ZeroplaneConfig,
  type ZeroplaneConfigInput,
} from "../../../runtime/config/index.js";
import { createLogger } from "../../../runtime/observability/logger.js";
import { startServer, type AgentServer } from "../../../runtime/server/index.js";
import { WireClient, type CurveClientKeys } from "./wire-client.js";

export interface TestServer {
  readonly server: AgentServer;
  readonly config: ZeroplaneConfig;
  /** Raw JSON log lines the server wrote. */
  readonly logLines: string[];
  client(curve?: CurveClientKeys): WireClient;
  metricsText(): Promise<string>;
  stop(): Promise<void>;
}

/** A config for tests: CURVE off (unless overridden), loopback, ephemeral ports, private stateDir. */
export function testConfig(overrides: ZeroplaneConfigInput = {}, stateDir?: string): ZeroplaneConfig {
  return loadConfig({
    env: {},
    overrides: {
      ...overrides,
      server: { bind: "tcp://127.0.0.1:*", publishBind: "tcp://127.0.0.1:*", ...overrides.server },
      security: { curve: false, ...overrides.security },
      http: { host: "127.0.0.1", port: 0, ...overrides.http },
      runner: { stopGraceMs: 2_000, ...overrides.runner, ...(stateDir ? { stateDir } : {}) },
      log: { level: "info", ...overrides.log },
    },
  });
}

export async function startTestServer(overrides: ZeroplaneConfigInput = {}): Promise<TestServer> {
  const stateDir = mkdtempSync(join(tmpdir(), "zeroplane-state-"));
  const config = testConfig(overrides, stateDir);
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logLines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      callback();
    },
  });
  const logger = createLogger({ level: config.log.level, destination });
  let server: AgentServer;
  try {
    server = await startServer(config, { logger });
  } catch (error) {
    rmSync(stateDir, { recursive: true, force: true });
    throw error;
  }
  const clients: WireClient[] = [];
  return {
    server,
    config,
    logLines,
    client(curve) {
      const client = new WireClient(server.endpoints.router, curve);
      clients.push(client);
      return client;
    },
    async metricsText() {
      const response = await fetch(`${server.endpoints.http}/metrics`);
      return response.text();
    },
    async stop() {
      await Promise.all(clients.map((client) => client.close()));
      await server.shutdown();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Reads one sample from Prometheus text, or 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== " " && rest[0] !== "{") continue;
    if (wanted.every((label) => rest.includes(label))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return 0;
}
