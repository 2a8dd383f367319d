/**
 * The observability port: /healthz (the process is alive), /readyz (it should receive traffic) and
 * /metrics (Prometheus text format). Nothing else is served.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { HTTP_PATHS } from "../config/index.js";

export interface HttpProbes {
  /** False only when the process should be restarted. */
  alive(): boolean;
  /** False while starting, draining, or when a required dependency is down. Returns why when not ready. */
  ready(): { ready: boolean; reason?: string };
}

export interface ObservabilityServer {
  /** The bound URL, such as http://127.0.0.1:9090. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startObservabilityServer(options: {
  host: string;
  port: number;
  registry: Registry;
  probes: HttpProbes;
}): Promise<ObservabilityServer> {
  const { registry, probes } = options;
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === HTTP_PATHS.healthz) {
      const alive = probes.alive();
      response.writeHead(alive ? 200 : 503, { "content-type": "text/plain" }).end(alive ? "ok\n" : "dead\n");
      return;
    }
    if (path === HTTP_PATHS.readyz) {
      const state = probes.ready();
      response
        .writeHead(state.ready ? 200 : 503, { "content-type": "text/plain" })
        .end(state.ready ? "ready\n" : `not ready: ${state.reason ?? "unknown"}\n`);
      return;
    }
    if (path === HTTP_PATHS.metrics) {
      registry.metrics().then(
        (text) => response.writeHead(200, { "content-type": registry.contentType }).end(text),
        (error: Error) => response.writeHead(500, { "content-type": "text/plain" }).end(`${error.message}\n`),
      );
      return;
    }
    response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  // Probes must not hold a shutdown open.
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
