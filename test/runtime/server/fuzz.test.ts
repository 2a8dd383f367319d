/**
 * Hostile input: 100,000+ malformed frames against a server in a child process. Every frame gets an
 * error reply, the server keeps serving, and its memory stays bounded.
 */
import { encode } from "@msgpack/msgpack";
import { afterEach, describe, expect, it } from "vitest";
import {
  rssBytes,
  startServerProcess,
  testServerConfig,
  type ServerProcess,
} from "../../support/server-process.js";
import { WireClient } from "./wire-client.js";
import { waitFor } from "../../support/wait.js";

const MAX_MESSAGE_BYTES = 4096;
const FRAMES = 100_000;
/**
 * Every byte and choice comes from one seeded generator. A failure prints its seed; replay it with
 * FUZZ_SEED=<seed> npx vitest run test/runtime/server/fuzz.test.ts
 */
const SEED = process.env.FUZZ_SEED === undefined ? 20_261_123 : Number(process.env.FUZZ_SEED);

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Seeded generator, so a failure can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** n bytes from the generator. */
function bytes(n: number, random: () => number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
}

/** One malformed message (one or more frames) of kind `i % 10`. None is a valid request. */
function malformed(i: number, random: () => number): Uint8Array[] {
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
  switch (i % 10) {
    case 0:
      return [bytes(Math.floor(random() * 64), random)];
    case 1:
      return [encode(pick<unknown>([42, "hello", [1, 2, 3], null, true, 3.5, new Uint8Array(8)]))];
    case 2:
      return [
        encode({
          v: 1,
          id: `u${i}`,
          method: pick(["explode", "", "__proto__", "constructor", "SPAWN"]),
          params: {},
        }),
      ];
    case 3:
      return [
        encode({
          v: 1,
          id: `w${i}`,
          method: "spawn",
          params: pick<unknown>([{ command: 7 }, { args: "x" }, "params", [1], { command: "" }]),
        }),
      ];
    case 4:
      return [encode({ v: 1, id: `x${i}`, method: "health", params: {} }), bytes(8, random)];
    case 5:
      return [new Uint8Array(0)];
    case 6:
      return [
        encode({ v: 1, id: `o${i}`, method: "health", params: { pad: "p".repeat(MAX_MESSAGE_BYTES) } }),
      ];
    case 7:
      return [encode({ v: pick<unknown>([0, 2, "1", null]), id: `v${i}`, method: "health", params: {} })];
    case 8:
      // Collection headers claiming billions of entries, and a truncated envelope.
      return [
        pick([
          Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff]),
          Uint8Array.from([0xdf, 0x7f, 0xff, 0xff, 0xff]),
          encode({ v: 1, id: "t", method: "health" }).slice(0, 9),
        ]),
      ];
    default:
      return [
        encode({ v: 1, id: pick<unknown>([7, "", "i".repeat(300), null]), method: "health", params: {} }),
      ];
  }
}

describe("hostile input", () => {
  it(`survives ${FRAMES.toLocaleString("en")} malformed frames with an error reply each and bounded memory`, async ({
    onTestFailed,
  }) => {
    if (!Number.isInteger(SEED))
      throw new Error(`FUZZ_SEED must be an integer; got ${process.env.FUZZ_SEED}`);
    onTestFailed(() => {
      console.error(
        `fuzz seed ${SEED}: replay with FUZZ_SEED=${SEED} npx vitest run test/runtime/server/fuzz.test.ts`,
      );
    });
    const server: ServerProcess = await startServerProcess({
      config: testServerConfig({ server: { maxMessageBytes: MAX_MESSAGE_BYTES } }),
    });
    cleanups.push(() => server.dispose());
    const client = new WireClient(server.endpoints.router);
    cleanups.push(() => client.close());
    expect((await client.request("health", {})).healthy).toBe(true);

    const random = prng(SEED);
    const send = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        await client.sendRaw(malformed(i, random));
        if (i % 1_000 === 999) {
          // Keep at most ~5,000 replies outstanding so both sides' queues stay small.
          await waitFor("replies", () => client.unmatched.length >= i + 1 - 5_000, 30_000);
        }
      }
    };
    // Warm up, then take the baseline: growth after warm-up is what a leak would show.
    await send(0, 10_000);
    await waitFor("warm-up replies", () => client.unmatched.length >= 10_000, 30_000);
    const baseline = rssBytes(server.pid);
    await send(10_000, FRAMES);
    await waitFor("every error reply", () => client.unmatched.length >= FRAMES, 60_000);
    expect(client.unmatched.length).toBe(FRAMES);
    expect(client.unmatched.every((reply) => reply.ok === false)).toBe(true);
    const codes = new Set(client.unmatched.map((reply) => reply.error!.code));
    expect([...codes].sort()).toEqual([
      "BAD_REQUEST",
      "MESSAGE_TOO_LARGE",
      "UNKNOWN_METHOD",
      "UNSUPPORTED_VERSION",
    ]);

    const health = await client.request("health", {});
    expect(health).toMatchObject({ healthy: true, ready: true, activeAgents: 0 });
    const growth = rssBytes(server.pid) - baseline;
    expect(growth).toBeLessThan(64 * 1024 * 1024);
  });
});
