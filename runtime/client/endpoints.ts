/**
 * Server endpoints: `tcp://host:port` as given, or `dns://name:port`, which stands for every IPv4 and
 * IPv6 address the name resolves to (a Kubernetes headless Service gives one per pod).
 */
import { promises as dns } from "node:dns";
import { isIP } from "node:net";
import { DEFAULT_PORTS } from "../config/index.js";
import { ClientUsageError, UnreachableError } from "./errors.js";

/** How far the PUB port sits from the ROUTER port by default (5556 - 5555). */
export const PUBLISH_PORT_OFFSET = DEFAULT_PORTS.stream - DEFAULT_PORTS.router;

export interface ParsedEndpoint {
  readonly scheme: "tcp" | "ipc" | "dns";
  /** Host name or address (tcp, dns), or the path (ipc). */
  readonly host: string;
  readonly port: number | null;
  /** The spec as given. */
  readonly spec: string;
}

/** A connectable server: its ROUTER endpoint and its PUB endpoint. */
export interface ServerAddress {
  readonly endpoint: string;
  readonly publishEndpoint: string;
}

/** The subset of node's DNS resolver used here, so a caller can point it at specific servers. */
export interface DnsResolver {
  resolve4(hostname: string): Promise<string[]>;
  resolve6(hostname: string): Promise<string[]>;
}

const ENDPOINT_EXAMPLE = "tcp://127.0.0.1:5555 or dns://zeroplane.agents.svc.cluster.local:5555";

/** Splits a comma-separated list of endpoints, dropping blanks. */
export function splitEndpoints(value: string | readonly string[]): string[] {
  const parts = typeof value === "string" ? value.split(",") : value.flatMap((v) => v.split(","));
  return parts.map((part) => part.trim()).filter(Boolean);
}

/** Parses one endpoint spec; throws a ClientUsageError naming the bad value and the expected form. */
export function parseEndpoint(spec: string): ParsedEndpoint {
  const match = /^(tcp|ipc|dns):\/\/(.+)$/.exec(spec.trim());
  if (!match) {
    throw new ClientUsageError(
      `invalid endpoint "${spec}": it must start with tcp://, dns:// or ipc://. Fix: use for example ${ENDPOINT_EXAMPLE}.`,
    );
  }
  const scheme = match[1] as ParsedEndpoint["scheme"];
  const rest = match[2]!;
  if (scheme === "ipc") return { scheme, host: rest, port: null, spec };
  const hostPort = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(rest);
  const port = hostPort ? Number(hostPort[2]) : NaN;
  if (!hostPort || port < 1 || port > 65535) {
    throw new ClientUsageError(
      `invalid endpoint "${spec}": expected host:port with a port from 1 to 65535. Fix: use for example ${ENDPOINT_EXAMPLE}.`,
    );
  }
  return { scheme, host: hostPort[1]!.replace(/^\[(.*)\]$/, "$1"), port, spec };
}

function tcpEndpoint(host: string, port: number): string {
  return isIP(host) === 6 ? `tcp://[${host}]:${port}` : `tcp://${host}:${port}`;
}

/** The PUB endpoint that conventionally sits beside a ROUTER endpoint (port + 1). */
export function defaultPublishEndpoint(endpoint: string): string {
  const parsed = parseEndpoint(endpoint);
  if (parsed.scheme === "ipc") return `${endpoint}.events`;
  return tcpEndpoint(parsed.host, parsed.port! + PUBLISH_PORT_OFFSET);
}

/**
 * Resolves endpoint specs to connectable servers. `publishEndpoints`, when given, pairs with `specs`
 * by position (for tcp:// specs); otherwise each PUB endpoint is the ROUTER port + 1.
 * A dns:// name that resolves to nothing is an error; duplicates are dropped.
 */
export async function resolveEndpoints(
  specs: readonly string[],
  options: { publishEndpoints?: readonly string[]; resolver?: DnsResolver } = {},
): Promise<ServerAddress[]> {
  if (specs.length === 0) {
    throw new ClientUsageError(
      `no server endpoints given. Fix: pass --endpoint, set ZEROPLANE_ENDPOINTS, or list endpoints in the config file (for example ${ENDPOINT_EXAMPLE}).`,
    );
  }
  const publish = options.publishEndpoints ?? [];
  if (publish.length > 0 && publish.length !== specs.length) {
    throw new ClientUsageError(
      `${publish.length} publish endpoints for ${specs.length} endpoints. Fix: give one publish endpoint per endpoint, in the same order, or none to use port + ${PUBLISH_PORT_OFFSET}.`,
    );
  }
  const resolver = options.resolver ?? dns;
  const addresses = new Map<string, ServerAddress>();
  for (const [index, spec] of specs.entries()) {
    const parsed = parseEndpoint(spec);
    if (parsed.scheme === "dns") {
      if (publish[index]) {
        throw new ClientUsageError(
          `publish endpoint "${publish[index]}" cannot pair with ${spec}, which stands for many servers. Fix: leave publish endpoints out; each server's PUB port is its ROUTER port + ${PUBLISH_PORT_OFFSET}.`,
        );
      }
      for (const ip of await resolveName(parsed.host, resolver)) {
        const endpoint = tcpEndpoint(ip, parsed.port!);
        addresses.set(endpoint, { endpoint, publishEndpoint: defaultPublishEndpoint(endpoint) });
      }
    } else {
      const endpoint = parsed.scheme === "tcp" ? tcpEndpoint(parsed.host, parsed.port!) : spec;
      if (publish[index]) parseEndpoint(publish[index]);
      addresses.set(endpoint, {
        endpoint,
        publishEndpoint: publish[index] ?? defaultPublishEndpoint(endpoint),
      });
    }
  }
  return [...addresses.values()];
}

/** All A and AAAA records of a name, sorted so the order is stable. */
async function resolveName(name: string, resolver: DnsResolver): Promise<string[]> {
  if (isIP(name)) return [name];
  const results = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
  const ips = results.flatMap((result) => (result.status === "fulfilled" ? result.value : []));
  if (ips.length === 0) {
    const reason = results
      .map((result) => (result.status === "rejected" ? (result.reason as Error).message : "no records"))
      .join("; ");
    throw new UnreachableError(
      `DNS name "${name}" resolved to no addresses (${reason}). Fix: check the name (for a Kubernetes headless Service: <service>.<namespace>.svc.cluster.local) and that DNS is reachable.`,
    );
  }
  return [...new Set(ips)].sort();
}
