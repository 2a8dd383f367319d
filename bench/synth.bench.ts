/**
 * Synthesis time of the full platform (constructs, validations, YAML) for the three example
 * environments, and how it scales from 1 to 50 agent-server groups. The reference measured in the same
 * run is the floor: serializing the same objects to YAML without building them.
 */
import { performance } from "node:perf_hooks";
import { stringify } from "yaml";
import { synthesizePlatform } from "../constructs/index.js";
import { EXAMPLE_ENVIRONMENTS, type ExampleEnvironment } from "../constructs/examples.js";
import type { AgentServerGroupSpec, ZeroplanePlatformProps } from "../constructs/platform.js";
import { median, round, type Report } from "./report.js";

const RUNS = 9;

function time(fn: () => void, runs = RUNS): number {
  fn(); // warm-up: module loading and JIT
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

function withGroups(count: number): ZeroplanePlatformProps {
  const prod = EXAMPLE_ENVIRONMENTS.prod;
  const template = prod.agentServers[0] as AgentServerGroupSpec;
  const agentServers = Array.from({ length: count }, (_, i) => ({ ...template, name: `group-${i}` }));
  return { ...prod, agentServers };
}

export async function run(report: Report): Promise<void> {
  const envs = Object.keys(EXAMPLE_ENVIRONMENTS) as ExampleEnvironment[];
  let total = 0;
  let totalFloor = 0;
  for (const env of envs) {
    const spec = EXAMPLE_ENVIRONMENTS[env];
    const { objects } = synthesizePlatform(spec);
    const ms = time(() => synthesizePlatform(spec));
    const floor = time(() => stringify(objects));
    total += ms;
    totalFloor += floor;
    report({
      name: `synth_${env}_ms`,
      value: round(ms, 2),
      unit: "ms",
      baseline: round(floor, 2),
      ratio: round(ms / floor, 2),
      note: `${objects.length} objects; baseline = YAML serialization of the same objects alone (median of ${RUNS})`,
    });
  }
  report({
    name: "synth_three_environments_ms",
    value: round(total, 2),
    unit: "ms",
    baseline: round(totalFloor, 2),
    ratio: round(total / totalFloor, 2),
    note: "dev + staging + prod, sum of medians",
  });

  const one = time(() => synthesizePlatform(withGroups(1)));
  for (const count of [1, 10, 25, 50]) {
    const ms = count === 1 ? one : time(() => synthesizePlatform(withGroups(count)), 5);
    report({
      name: `synth_${count}_groups_ms`,
      value: round(ms, 2),
      unit: "ms",
      baseline: round(one * count, 2),
      ratio: round(ms / (one * count), 3),
      note: "prod-shaped groups (HPA, NLB, PDB, NetworkPolicy, alerts each); baseline = 1-group time x count (ratio < 1: shared objects amortize, > 1: superlinear)",
    });
    if (count === 50) {
      report({
        name: "synth_marginal_group_ms",
        value: round((ms - one) / 49, 3),
        unit: "ms",
        note: "extra time per added group, 1 -> 50",
      });
    }
  }
}
