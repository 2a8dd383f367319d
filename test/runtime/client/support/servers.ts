/**
 * Real server processes for client tests: fixed loopback ports (so a server can be restarted on the
 * same address), an own stateDir, CURVE off unless keys are given. Built on test/support/server-process.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";
import type { ZeroplaneClient } from "../../../../runtime/client/index.js";
import type { ZeroplaneConfigInput } from "../../../../runtime/config/index.js";
import { freePorts } from "../../../support/ports.js";
import { startServerProcess, testServerConfig, type ServerProcess } from "../../../support/server-process.js";

export interface TestServerSpec {
  readonly id: string;
  readonly routerPort: number;
  readonly publishPort: number;
  readonly stateDir: string;
  readonly endpoint: string;
  readonly publishEndpoint: string;
  readonly config: ZeroplaneConfigInput;
}

export interface CurveServerKeys {
  readonly secretKey: string;
  /** Client public keys allowed in. */
  readonly allowlist: readonly string[];
}

/** Specs for `count` servers on free loopback ports, each with its own stateDir. */
export async function serverSpecs(
  count: number,
  options: { curve?: CurveServerKeys; server?: ZeroplaneConfigInput["server"] } = {},
): Promise<TestServerSpec[]> {
  const ports = await freePorts(count * 2);
  return Array.from({ length: count }, (_, i) => {
    const routerPort = ports[i * 2]!;
    const publishPort = ports[i * 2 + 1]!;
    const dir = mkdtempSync(join(tmpdir(), "zp-client-test-"));
    let security: ZeroplaneConfigInput["security"] = { curve: false };
    if (options.curve) {
      const secretKeyFile = join(dir, "server.key_secret");
      const allowlistFile = join(dir, "allowlist.txt");
      writeFileSync(secretKeyFile, `${options.curve.secretKey}\n`, { mode: 0o600 });
      writeFileSync(allowlistFile, `${options.curve.allowlist.join("\n")}\n`);
      security = { curve: true, secretKeyFile, allowlistFile };
    }
    const id = `srv-${i + 1}`;
    const stateDir = join(dir, "state");
    return {
      id,
      routerPort,
      publishPort,
      stateDir,
      endpoint: `tcp://127.0.0.1:${routerPort}`,
      publishEndpoint: `tcp://127.0.0.1:${publishPort}`,
      config: testServerConfig({
        server: {
          id,
          bind: `tcp://127.0.0.1:${routerPort}`,
          publishBind: `tcp://127.0.0.1:${publishPort}`,
          shutdownGraceMs: 3_000,
          ...options.server,
        },
        security,
        runner: { stateDir, stopGraceMs: 1_000 },
      }),
    };
  });
}

/** Starts (or restarts) the server of a spec. */
export function startSpec(spec: TestServerSpec): Promise<ServerProcess> {
  return startServerProcess({ config: spec.config, readyTimeoutMs: 45_000 });
}

/** Tracks processes and temp dirs so afterEach can always clean up. */
export class ServerPool {
  private readonly processes = new Set<ServerProcess>();
  private readonly dirs = new Set<string>();

  async start(spec: TestServerSpec): Promise<ServerProcess> {
    this.dirs.add(join(spec.stateDir, ".."));
    const server = await startSpec(spec);
    this.processes.add(server);
    return server;
  }

  async disposeAll(): Promise<void> {
    const all = [...this.processes];
    this.processes.clear();
    for (const server of all) {
      // A stopped (SIGSTOP) process must be continued to die promptly from SIGKILL's reaping view.
      try {
        process.kill(server.pid, "SIGCONT");
      } catch {
        // Already gone.
      }
    }
    await Promise.all(all.map((server) => server.dispose()));
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
    this.dirs.clear();
  }
}

/** A ServerPool and the clients a test opens, both closed after each test (call inside `describe`). */
export function poolPerTest(): { readonly pool: ServerPool; readonly clients: ZeroplaneClient[] } {
  const pool = new ServerPool();
  const clients: ZeroplaneClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await pool.disposeAll();
  });
  return { pool, clients };
}

/** Polls `check` until it returns a value (not undefined/false) or the deadline passes. */
export async function waitUntil<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
