import { spawn } from "node:child_process";
import { createAgentRunner } from "./runtime/runner/index.js";
import { mkdtempSync } from "node:fs";
async function raw(count: number) {
  let started = 0, done = 0; const begin = performance.now();
  await new Promise<void>((resolve) => {
    const next = () => { if (started === count) return; started++; const c = spawn("true", [], { stdio: "pipe", detached: true }); c.once("spawn", () => { if (++done === count) resolve(); else next(); }); };
    for (let i = 0; i < 32; i++) next();
  });
  return count / ((performance.now() - begin) / 1000);
}
console.log("raw in tsx process", await raw(300));
const runner = await createAgentRunner({ serverId: "b", maxAgents: 2000, outputCapBytes: 1 << 20, retentionMs: 1000, stopGraceMs: 1000, stateDir: mkdtempSync("/tmp/zpb-") });
let n = 0; const total = 300; const t0 = performance.now();
async function worker() { while (n < total) { n++; await runner.spawn({ command: "true", args: [], env: {}, labels: {} } as never); } }
await Promise.all(Array.from({ length: 32 }, worker));
console.log("runner spawns/s", total / ((performance.now() - t0) / 1000));
console.log("raw again", await raw(300));
const big = Buffer.alloc(100 * 1024 * 1024, 1);
console.log("raw with +100MB heap", await raw(300), big.length);
await runner.close();
