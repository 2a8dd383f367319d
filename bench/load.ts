/**
 * The load generator for request benchmarks: CURVE DEALER sockets keeping requests in flight, with
 * the latency of every request under that load, and sequential round trips.
 */
import { encode } from "@msgpack/msgpack";
import { readFileSync } from "node:fs";
import { Dealer } from "zeromq";
import { PROTOCOL_VERSION } from "../runtime/protocol/index.js";
import { percentile } from "./report.js";

export interface KeyPair {
  readonly publicKey: string;
  readonly secretKey: string;
}

export interface Keys {
  readonly server: KeyPair;
  readonly client: KeyPair;
}

/** A DEALER with CURVE; a receive that waits longer than 30 s throws instead of hanging the bench. */
export function clientSocket(endpoint: string, keys: Keys): Dealer {
  const dealer = new Dealer({
    linger: 0,
    sendHighWaterMark: 0,
    receiveHighWaterMark: 0,
    receiveTimeout: 30_000,
    curveServerKey: keys.server.publicKey,
    curvePublicKey: keys.client.publicKey,
    curveSecretKey: keys.client.secretKey,
  });
  dealer.connect(endpoint);
  return dealer;
}

export function requestFrame(method: string, id: string, params: unknown = {}): Uint8Array {
  return encode({ v: PROTOCOL_VERSION, id, method, params });
}

/** Latency percentiles in milliseconds. */
export interface Latency {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

export function latencyOf(samples: readonly number[]): Latency {
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return { p50: at(50), p90: at(90), p99: at(99) };
}

export interface LoadResult {
  /** Replies per second. */
  readonly rate: number;
  /** Each request's latency under this load. */
  readonly latency: Latency;
}

/**
 * `clients` DEALERs keep `window` requests in flight each for `seconds`, then wait for the last
 * replies. A request's latency is from its send to its reply: replies to one DEALER come back in
 * order here (each request is answered synchronously), so a FIFO of send times matches them.
 */
export async function loadRate(
  endpoint: string,
  keys: Keys,
  options: { clients: number; window: number; seconds: number; frame: Uint8Array },
): Promise<LoadResult> {
  const sockets = Array.from({ length: options.clients }, () => clientSocket(endpoint, keys));
  try {
    // Warm up: every connection handshaken and answering.
    for (const socket of sockets) {
      await socket.send(options.frame);
      await socket.receive();
    }
    const samples: number[] = [];
    const started = performance.now();
    const deadline = started + options.seconds * 1000;
    let ended = started;
    const drive = async (socket: Dealer): Promise<number> => {
      const sentAt: number[] = [];
      let head = 0;
      for (let i = 0; i < options.window; i++) {
        sentAt.push(performance.now());
        await socket.send(options.frame);
      }
      while (head < sentAt.length) {
        await socket.receive();
        const now = performance.now();
        samples.push(now - sentAt[head++]!);
        ended = Math.max(ended, now);
        if (now < deadline) {
          sentAt.push(now);
          await socket.send(options.frame);
        }
      }
      return head;
    };
    const replies = (await Promise.all(sockets.map(drive))).reduce((a, b) => a + b, 0);
    return { rate: replies / ((ended - started) / 1000), latency: latencyOf(samples) };
  } finally {
    for (const socket of sockets) socket.close();
  }
}

/** Sequential round trips on one DEALER: p50 in milliseconds, after `warmup` unmeasured ones. */
export async function sequentialP50(
  endpoint: string,
  keys: Keys,
  count: number,
  warmup = 200,
): Promise<number> {
  const socket = clientSocket(endpoint, keys);
  const samples: number[] = [];
  try {
    for (let i = 0; i < count + warmup; i++) {
      const started = performance.now();
      await socket.send(requestFrame("health", `l${i}`));
      await socket.receive();
      if (i >= warmup) samples.push(performance.now() - started);
    }
  } finally {
    socket.close();
  }
  return percentile(samples, 50);
}

/** CPU time (user + system, all threads) a process has used so far, in milliseconds (Linux /proc). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS;
}

/** USER_HZ: 100 on every Linux Node supports. */
const CLOCK_TICKS = 100;
