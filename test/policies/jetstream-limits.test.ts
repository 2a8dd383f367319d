/** jetstream-limits-below-volume: JetStream's store and the lifecycle stream both stop below the volume. */
import { describe, expect, it } from "vitest";
import { ENV_VARS } from "../../runtime/config/index.js";
import { natsSizeBytes } from "../../policies/rules/nats.js";
import { agentServer, baseline, find, violationsOf, type Editable } from "./support.js";

const RULE = "jetstream-limits-below-volume";

function withStore(line: string): Editable[] {
  const objects = baseline();
  const data = find(objects, "ConfigMap", "nats-config").data;
  data["nats.conf"] = (data["nats.conf"] as string).replace("max_file_store: 8G", line);
  return objects;
}

function withStreamLimit(value: string | undefined, registry?: string): Editable[] {
  const objects = baseline();
  const container = agentServer(objects).container;
  container.env = container.env.filter((e: Editable) => e.name !== ENV_VARS["nats.maxBytes"]);
  if (value !== undefined) container.env.push({ name: ENV_VARS["nats.maxBytes"], value });
  if (registry !== undefined) container.env.push({ name: ENV_VARS["nats.registry"], value: registry });
  return objects;
}

describe("natsSizeBytes", () => {
  it("reads nats.conf sizes as nats-server does: one letter decimal, b/i/ib binary", () => {
    expect(natsSizeBytes("10737418240")).toBe(10 * 1024 ** 3);
    expect(natsSizeBytes("8G")).toBe(8e9);
    expect(natsSizeBytes("8GB")).toBe(8 * 1024 ** 3);
    expect(natsSizeBytes("8Gi")).toBe(8 * 1024 ** 3);
    expect(natsSizeBytes('"512MiB"')).toBe(512 * 1024 ** 2);
    expect(natsSizeBytes("lots")).toBeUndefined();
  });
});

describe(RULE, () => {
  it("passes a store at 80% of the volume and a stream limit below the store", () => {
    expect(violationsOf(RULE, withStore("max_file_store: 8589934592"))).toEqual([]);
  });

  it("rejects a store as large as the volume, an unset store and an unreadable one", () => {
    for (const line of ["max_file_store: 10Gi", "max_file: 10737418240", "", "max_file_store: lots"]) {
      const found = violationsOf(RULE, withStore(line));
      expect(found, line).toHaveLength(1);
      expect(found[0]!.object?.kind).toBe("StatefulSet");
    }
  });

  it("rejects agent servers without a stream byte limit, or with one above the store", () => {
    for (const value of [undefined, "0", "9000000000"]) {
      const found = violationsOf(RULE, withStreamLimit(value));
      expect(found, String(value)).toHaveLength(1);
      expect(found[0]!.object?.kind).toBe("Deployment");
      expect(found[0]!.message).toMatch(/stream/);
    }
  });

  it("counts the cluster registry's KV buckets on top of the stream limit unless the registry is off", () => {
    // The baseline store is 8G: 7.5e9 fits alone, not with the registry's 18.75% on top.
    const found = violationsOf(RULE, withStreamLimit("7500000000"));
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toMatch(/registry's buckets/);
    expect(violationsOf(RULE, withStreamLimit("7500000000", "false"))).toEqual([]);
    expect(violationsOf(RULE, withStreamLimit("6000000000"))).toEqual([]);
  });
});
