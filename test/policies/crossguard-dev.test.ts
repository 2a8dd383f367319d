/** CI gate through the CrossGuard pack: the dev Pulumi program under mocks (one file per stack: Pulumi's runtime state is per process). */
import { describe, expect, it } from "vitest";
import {
  expectedKubernetesObjects,
  mandatoryViolations,
  registeredKubernetesObjects,
  registeredResources,
} from "./pulumi-stack.js";

describe("the dev stack under the CrossGuard pack", () => {
  it("registers every Kubernetes object with no mandatory violation", async () => {
    const resources = await registeredResources("dev");
    // The complete set, not a prefix of it: every object the environment synthesizes was registered.
    const expected = expectedKubernetesObjects("dev");
    expect(expected.length).toBeGreaterThan(15);
    expect(registeredKubernetesObjects(resources)).toEqual(expected);
    expect(await mandatoryViolations("dev", resources)).toEqual([]);
  });
});
