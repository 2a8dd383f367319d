/**
 * Output streaming: bytes per second from agents writing as fast as they can (`head -c N
 * /dev/zero`) to a CURVE client, through
 *  - `logs --follow` (the SDK's follow(): PUB output events that continue at its offset, the
 *    `output` method for the rest), and
 *  - the PUB output events themselves (the SDK's subscribe()),
 * for one agent and for 100 agents writing at once, as a ratio to raw zeromq.js moving the same
 * bytes over CURVE between two processes (PUSH/PULL, 64 KiB frames, bench/stream-peer.ts). Agents
 * run in the separate runner (runner.mode process, the default).
 *
 * Also the floor of the process layout itself (bench/stream-relay.ts: the same four processes with
 * nothing of Zeroplane in them), and the CURVE cost: raw PUSH/PULL with and without CURVE, in 64 KiB
 * and 1 MiB frames.
 *
 *   npx tsx bench/run.ts stream
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { curveKeyPair } from "zeromq";
import { ZeroplaneClient } from "../runtime/client/index.js";
import { TERMINAL_STATUSES } from "../runtime/protocol/index.js";
import type { Keys } from "./load.js";
import { median, round, type Report, compared } from "./report.js";
import { bundleServer, repoRoot, startAgentServer, startHelper, type BenchServer } from "./servers.js";
import { pullBytes } from "./stream-peer.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ONE_AGENT_BYTES = 32 * 1024 * 1024;
const AGENTS = 100;
const PER_AGENT_BYTES = 512 * 1024;
const CHUNK = 64 * 1024;
const MB = 1024 * 1024;

/** Raw zeromq.js: one process pushes `bytes` to this one; bytes per second. */
async function rawRate(keys: Keys | null, bytes: number, frameBytes: number): Promise<number> {
  const helper = await startHelper(
    join(repoRoot, "bench", "stream-peer.ts"),
    [String(bytes), String(frameBytes)],
    /^listening (\S+)$/m,
    keys ? { BENCH_CURVE_SECRET_KEY: keys.server.secretKey } : {},
  );
  try {
    const { bytes: received, rate } = await pullBytes(helper.line[1]!, keys);
    if (received !== bytes) throw new Error(`raw stream moved ${received} of ${bytes} bytes`);
    return rate;
  } finally {
    await helper.stop();
  }
}

/**
 * The same bytes through the output path's process layout with nothing of Zeroplane in it
 * (bench/stream-relay.ts): agent, bare runner, bare server pushing over CURVE, this process.
 */
async function relayRate(keys: Keys, bytes: number): Promise<number> {
  const script = join(repoRoot, "bench", "stream-relay.ts");
  const server = await startHelper(script, ["server"], /^listening (\S+) (\S+)$/m, {
    BENCH_CURVE_SECRET_KEY: keys.server.secretKey,
  });
  try {
    const pulled = pullBytes(server.line[1]!, keys);
    const runner = await startHelper(script, ["runner", server.line[2]!, String(bytes)], /^relaying$/m);
    try {
      const { bytes: received, rate } = await pulled;
      if (received !== bytes) throw new Error(`the relay moved ${received} of ${bytes} bytes`);
      return rate;
    } finally {
      await runner.stop();
    }
  } finally {
    await server.stop();
  }
}

async function connect(server: BenchServer, keys: Keys): Promise<ZeroplaneClient> {
  const client = await ZeroplaneClient.connect({
    endpoints: [server.endpoints.router],
    publishEndpoints: [server.endpoints.publish],
    curve: { serverPublicKey: keys.server.publicKey, ...keys.client },
    timeoutMs: 60_000,
  });
  await client.waitForServers({ timeoutMs: 30_000 });
  return client;
}

const writer = (bytes: number) => ({ command: "head", args: ["-c", String(bytes), "/dev/zero"] });

/** `agents` agents write `bytes` each; every one is followed as `logs --follow` does. */
async function followRate(client: ZeroplaneClient, agents: number, bytes: number): Promise<number> {
  const started = performance.now();
  const totals = await Promise.all(
    Array.from({ length: agents }, async () => {
      const agent = await client.spawn(writer(bytes));
      let received = 0;
      for await (const chunk of client.follow(agent.id)) received += chunk.data.byteLength;
      if (received !== bytes) throw new Error(`follow read ${received} of ${bytes} bytes of ${agent.id}`);
      return received;
    }),
  );
  return totals.reduce((a, b) => a + b, 0) / ((performance.now() - started) / 1000);
}

/**
 * `agents` agents write `bytes` each; one subscription counts output event bytes until every agent's
 * terminal status. Returns bytes per second delivered and the share of written bytes delivered (the
 * stream drops events rather than block when a subscriber falls behind).
 */
async function publishRate(
  client: ZeroplaneClient,
  agents: number,
  bytes: number,
): Promise<{ rate: number; delivered: number }> {
  let received = 0;
  const ids = new Set<string>();
  const ended = new Set<string>();
  let allEnded: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allEnded = resolve));
  const unsubscribe = client.subscribe({ kinds: ["output", "status"] }, (event) => {
    if (event.kind === "output") received += event.data.byteLength;
    else if (TERMINAL_STATUSES.has(event.agent.status)) {
      ended.add(event.agent.id);
      if (ids.size === agents && [...ids].every((id) => ended.has(id))) allEnded();
    }
  });
  try {
    // The subscription is live once a warm-up agent's status arrives.
    const warm = await client.spawn({ command: "true", args: [] });
    const deadline = Date.now() + 10_000;
    while (!ended.has(warm.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    received = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: agents }, async () => {
        const agent = await client.spawn(writer(bytes));
        ids.add(agent.id);
      }),
    );
    if ([...ids].every((id) => ended.has(id))) allEnded();
    await done;
    return {
      rate: received / ((performance.now() - started) / 1000),
      delivered: received / (agents * bytes),
    };
  } finally {
    unsubscribe();
  }
}

interface Case {
  readonly name: string;
  readonly agents: number;
  readonly bytes: number;
}

const CASES: readonly Case[] = [
  { name: "1_agent", agents: 1, bytes: ONE_AGENT_BYTES },
  { name: `${AGENTS}_agents`, agents: AGENTS, bytes: PER_AGENT_BYTES },
];

export async function run(report: Report): Promise<void> {
  const keys: Keys = { server: curveKeyPair(), client: curveKeyPair() };
  const dir = mkdtempSync(join(tmpdir(), "zeroplane-bench-stream-"));
  const bundle = await bundleServer();
  const raw: number[] = [];
  const relay: number[] = [];
  const follow: Record<string, number[]> = {};
  const publish: Record<string, number[]> = {};
  const delivered: Record<string, number[]> = {};
  const curveCost: Record<string, number[]> = {};
  try {
    for (let runIndex = 0; runIndex < RUNS; runIndex++) {
      raw.push(await rawRate(keys, ONE_AGENT_BYTES, CHUNK));
      relay.push(await relayRate(keys, ONE_AGENT_BYTES));
      const server = await startAgentServer(
        bundle.entry,
        keys,
        dir,
        // Room for every byte written, so the figure is the pipeline's rate, not the cap's.
        { runner: { outputCapBytes: 64 * MB, retentionMs: 60_000 } },
        `stream-${runIndex}`,
      );
      const client = await connect(server, keys);
      try {
        for (const c of CASES) {
          (follow[c.name] ??= []).push(await followRate(client, c.agents, c.bytes));
          const published = await publishRate(client, c.agents, c.bytes);
          (publish[c.name] ??= []).push(published.rate);
          (delivered[c.name] ??= []).push(published.delivered);
        }
      } finally {
        client.close();
        await server.stop();
      }
      for (const [frameBytes, label] of [
        [CHUNK, "64KiB"],
        [MB, "1MiB"],
      ] as const) {
        (curveCost[`curve_${label}`] ??= []).push(await rawRate(keys, ONE_AGENT_BYTES, frameBytes));
        (curveCost[`plain_${label}`] ??= []).push(await rawRate(null, ONE_AGENT_BYTES, frameBytes));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    bundle.remove();
  }
  const mibps = { unit: "MiB/s", scale: 1 / MB, digits: 1, better: "higher" } as const;
  for (const c of CASES) {
    const what = `${c.agents} agent(s) writing ${round(c.bytes / MB, 2)} MiB each with head -c from /dev/zero, CURVE on, separate runner`;
    report(
      compared(follow[c.name]!, raw, {
        ...mibps,
        name: `stream.follow_${c.name}`,
        note: `logs --follow (SDK follow(): PUB output events that continue at its offset, the output method for gaps), ${what}; from spawn to every byte read; baseline: raw zeromq.js PUSH/PULL over CURVE between two processes, 64 KiB frames; target ratio >= 0.7`,
      }),
    );
    report(
      compared(publish[c.name]!, raw, {
        ...mibps,
        name: `stream.publish_${c.name}`,
        distribution: { deliveredShare: round(median(delivered[c.name]!), 3) },
        note: `PUB output events read by one SDK subscription, ${what}; bytes delivered per second until every agent's terminal status (deliveredShare: delivered/written; the stream drops rather than block on a slow subscriber); baseline as above`,
      }),
    );
  }
  report(
    compared(relay, raw, {
      ...mibps,
      name: "stream.layout_floor_1_agent",
      note: `the output path's process layout with nothing of Zeroplane in it (bench/stream-relay.ts): head -c ${ONE_AGENT_BYTES / MB} MiB into a pipe, a bare runner process copying it into a Unix socket, a bare server process pushing each chunk over CURVE, read here; baseline: raw zeromq.js over CURVE between two processes. What the four processes cost on this machine, whatever the code in them`,
    }),
  );
  report(
    compared(follow["1_agent"]!, relay, {
      ...mibps,
      name: "stream.follow_1_agent_vs_layout_floor",
      note: "logs --follow, 1 agent (stream.follow_1_agent) against stream.layout_floor_1_agent: what Zeroplane's code costs beyond its process layout",
    }),
  );
  for (const label of ["64KiB", "1MiB"]) {
    report(
      compared(curveCost[`curve_${label}`]!, curveCost[`plain_${label}`]!, {
        ...mibps,
        name: `stream.raw_curve_${label}_frames`,
        note: `raw zeromq.js PUSH/PULL between two processes, ${label} frames, with CURVE; baseline: the same without CURVE. The installed zeromq build (libzmq 4.3.5) links libsodium statically for CURVE (crypto_box: Curve25519, XSalsa20-Poly1305), not the built-in tweetnacl`,
      }),
    );
  }
}
