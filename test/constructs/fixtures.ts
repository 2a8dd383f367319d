/** Shared helpers for the construct tests: synthesize a spec, find objects, build variants of examples. */
import { expect } from "vitest";
import { stringify } from "yaml";
import { synthesizePlatform, type SynthesizedPlatform } from "../../constructs/index.js";
import { exampleSpec } from "../../constructs/examples.js";
import type { ZeroplanePlatformProps } from "../../constructs/platform.js";

export type K8sObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // Tests read deep into specs; typing each kind would add noise without catching more.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  data?: Record<string, string>;
};

export type Synthesized = Omit<SynthesizedPlatform, "objects"> & { readonly objects: K8sObject[] };

export function synth(props: ZeroplanePlatformProps): Synthesized {
  return synthesizePlatform(props) as unknown as Synthesized;
}

/** The one object of a kind and name; fails loudly when absent. */
export function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) {
    throw new Error(
      `no ${kind}/${name}; have ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`,
    );
  }
  return found;
}

export function ofKind(objects: readonly K8sObject[], kind: string): K8sObject[] {
  return objects.filter((object) => object.kind === kind);
}

/** A minimal valid spec (one group, generated keys, no NATS) to vary in tests. */
export function minimalSpec(overrides: Partial<ZeroplanePlatformProps> = {}): ZeroplanePlatformProps {
  return {
    namespace: "zp-test",
    image: { repository: "registry.example/zeroplane", tag: "1.2.3" },
    agentServers: [{ name: "default" }],
    curve: { mode: "generated" },
    allowlist: { source: "configMap", name: "clients" },
    // The keygen Job's API server egress (required with generated keys).
    networkPolicy: { apiServerCidrs: ["10.96.0.1/32"] },
    ...overrides,
  };
}

export { exampleSpec };

/** The objects `select` picks must be exactly `expected` (kind/name, in order), and match the snapshot as YAML. */
export function expectObjectsSnapshot(
  objects: readonly K8sObject[],
  select: (object: K8sObject) => boolean,
  expected: readonly string[],
): void {
  const mine = objects.filter(select);
  expect(mine.map((object) => `${object.kind}/${object.metadata.name}`)).toEqual(expected);
  expect(stringify(mine)).toMatchSnapshot();
}
