/**
 * Summarises a V8 .cpuprofile (written by --cpu-prof) as self time per function and per package,
 * so a profile can be read without a viewer:
 *
 *   npx tsx bench/profile.ts bench/out/profiles/server-*.cpuprofile
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly hitCount?: number;
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface ProfileSummary {
  readonly totalHits: number;
  readonly functions: ReadonlyArray<{ name: string; share: number }>;
  readonly packages: ReadonlyArray<{ name: string; share: number }>;
}

/** Which package or source folder a script URL belongs to. */
function packageOf(url: string): string {
  if (url === "") return "(native/idle)";
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  if (url.startsWith("node:")) return "node";
  if (/\/server\/main\.mjs$/.test(url)) return "zeroplane (bundle)";
  return url
    .replace(/^file:\/\//, "")
    .split("/")
    .slice(-2)
    .join("/");
}

export function summarise(profile: CpuProfile, top = 25): ProfileSummary {
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    total += hits;
    const frame = node.callFrame;
    const name = `${frame.functionName || "(anonymous)"} ${packageOf(frame.url)}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
    const pkg = frame.url === "" ? frame.functionName || "(native)" : packageOf(frame.url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + hits);
  }
  const ranked = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, hits]) => ({ name, share: hits / Math.max(1, total) }));
  return { totalHits: total, functions: ranked(byFunction), packages: ranked(byPackage) };
}

export function formatSummary(summary: ProfileSummary): string {
  const lines = [`samples: ${summary.totalHits}`, "", "self time by package:"];
  for (const { name, share } of summary.packages)
    lines.push(`  ${(share * 100).toFixed(1).padStart(5)}%  ${name}`);
  lines.push("", "self time by function:");
  for (const { name, share } of summary.functions)
    lines.push(`  ${(share * 100).toFixed(1).padStart(5)}%  ${name}`);
  return lines.join("\n");
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  for (const file of process.argv.slice(2)) {
    const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
    process.stdout.write(`== ${file}\n${formatSummary(summarise(profile))}\n\n`);
  }
}
