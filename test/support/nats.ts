/**
 * Real nats-server processes for tests: one node or an N-node JetStream cluster on loopback, on free
 * ports, with temporary store directories. Nodes can be stopped, killed and restarted (same ports,
 * same store). `startNatsWithConfig` runs a config file written by someone else (for example generated
 * by the constructs).
 *
 *   const nats = await startNats();                 // one node, JetStream on
 *   const cluster = await startNatsCluster(3);      // three nodes, routes between them
 *   await cluster.nodes[0].kill();                  // SIGKILL
 *   await cluster.nodes[0].restart();
 *   await cluster.stop();                           // every node, and the temp dirs
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "./ports.js";
import { ensureNatsServer } from "./system-tools.js";

const READY_TIMEOUT_MS = 30_000;

export interface NatsNode {
  readonly name: string;
  /** Client port on 127.0.0.1. */
  readonly port: number;
  /** Monitoring (HTTP) port on 127.0.0.1: /healthz, /varz, /jsz. */
  readonly monitorPort: number;
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly configFile: string;
  /** True while the process runs. */
  running(): boolean;
  /** Output so far (stdout and stderr), for failure messages. */
  log(): string;
  /** SIGTERM, then waits for exit. */
  stop(): Promise<void>;
  /** SIGKILL, then waits for exit. */
  kill(): Promise<void>;
  /** Starts again with the same config (ports, store) and waits until healthy. */
  restart(): Promise<void>;
}

export interface NatsCluster {
  readonly nodes: readonly NatsNode[];
  /** Client URLs of every node. */
  readonly urls: string[];
  /** Stops every node and removes the temp directory. */
  stop(): Promise<void>;
}

export interface StartNatsOptions {
  /** Extra config text appended to each node's config. */
  readonly extraConfig?: string;
  /** Turn JetStream off. @default true */
  readonly jetstream?: boolean;
}

/** One node with JetStream, on free loopback ports. */
export async function startNats(options: StartNatsOptions = {}): Promise<NatsCluster> {
  return startNatsCluster(1, options);
}

/** N nodes; with N > 1 they form one cluster (routes between all of them) with clustered JetStream. */
export async function startNatsCluster(size: number, options: StartNatsOptions = {}): Promise<NatsCluster> {
  const binary = ensureNatsServer();
  const root = mkdtempSync(join(tmpdir(), "zeroplane-nats-"));
  const ports = await freePorts(size * 3);
  const clusterPorts = Array.from({ length: size }, (_, i) => ports[i * 3 + 2]!);
  const nodes: ManagedNode[] = [];
  for (let i = 0; i < size; i++) {
    const name = `n${i + 1}`;
    const port = ports[i * 3]!;
    const monitorPort = ports[i * 3 + 1]!;
    const lines = [
      `server_name: ${name}`,
      `listen: "127.0.0.1:${port}"`,
      `http: "127.0.0.1:${monitorPort}"`,
      options.jetstream === false ? "" : `jetstream { store_dir: "${join(root, name)}" }`,
    ];
    if (size > 1) {
      const routes = clusterPorts
        .filter((_, j) => j !== i)
        .map((p) => `"nats-route://127.0.0.1:${p}"`)
        .join(", ");
      lines.push(
        `cluster { name: zeroplane-test, listen: "127.0.0.1:${clusterPorts[i]}", routes: [${routes}] }`,
      );
    }
    if (options.extraConfig) lines.push(options.extraConfig);
    const configFile = join(root, `${name}.conf`);
    writeFileSync(configFile, `${lines.filter(Boolean).join("\n")}\n`);
    nodes.push(new ManagedNode(binary, name, configFile, port, monitorPort));
  }
  try {
    await Promise.all(nodes.map((node) => node.start()));
  } catch (error) {
    await Promise.all(nodes.map((node) => node.kill()));
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  return {
    nodes,
    urls: nodes.map((node) => node.url),
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface ConfiguredNats {
  readonly process: NatsNode;
  readonly configFile: string;
  /** Stops the server and removes the temp directory holding the config. */
  stop(): Promise<void>;
}

/**
 * Runs nats-server with the given config text. When `monitorPort` is given (the config must serve
 * HTTP there), waits for /healthz; otherwise waits for the "Server is ready" log line.
 * `{{TMP}}` in the text is replaced by a fresh temp directory (for store_dir and the like).
 */
export async function startNatsWithConfig(
  configText: string,
  options: { readonly port?: number; readonly monitorPort?: number } = {},
): Promise<ConfiguredNats> {
  const binary = ensureNatsServer();
  const root = mkdtempSync(join(tmpdir(), "zeroplane-nats-"));
  const configFile = join(root, "nats.conf");
  writeFileSync(configFile, configText.replaceAll("{{TMP}}", root));
  const node = new ManagedNode(binary, "configured", configFile, options.port ?? 0, options.monitorPort ?? 0);
  try {
    await node.start();
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  return {
    process: node,
    configFile,
    async stop() {
      await node.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

class ManagedNode implements NatsNode {
  private child: ChildProcess | null = null;
  private output = "";
  readonly url: string;

  constructor(
    private readonly binary: string,
    readonly name: string,
    readonly configFile: string,
    readonly port: number,
    readonly monitorPort: number,
  ) {
    this.url = `nats://127.0.0.1:${port}`;
  }

  running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    return this.output;
  }

  async start(): Promise<void> {
    if (this.running()) throw new Error(`nats-server ${this.name} is already running`);
    const child = spawn(this.binary, ["-c", this.configFile], { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    const collect = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString("utf8")).slice(-200_000);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const exited = new Promise<never>((_, reject) => {
      child.once("exit", (code, signal) =>
        reject(
          new Error(`nats-server ${this.name} exited (${code ?? signal}) while starting:\n${this.output}`),
        ),
      );
    });
    exited.catch(() => undefined);
    await Promise.race([this.waitReady(child), exited]);
  }

  async stop(): Promise<void> {
    await this.signal("SIGTERM");
  }

  async kill(): Promise<void> {
    await this.signal("SIGKILL");
  }

  async restart(): Promise<void> {
    if (this.running()) await this.stop();
    await this.start();
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running()) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  private async waitReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child !== this.child || !this.running()) throw new Error(`nats-server ${this.name} is not running`);
      if (this.monitorPort > 0) {
        if (await healthy(this.monitorPort)) return;
      } else if (this.output.includes("Server is ready")) {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`nats-server ${this.name} was not ready within ${READY_TIMEOUT_MS} ms:\n${this.output}`);
  }
}

async function healthy(monitorPort: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${monitorPort}/healthz`, {
      signal: AbortSignal.timeout(2000),
    });
    return response.ok;
  } catch {
    return false;
  }
}
