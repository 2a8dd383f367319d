/** CI gate through the CrossGuard pack: the staging Pulumi program under mocks (one file per stack: Pulumi's runtime state is per process). */
import { describe, expect, it } from "vitest";
import { mandatoryViolations, registeredResources } from "./pulumi-stack.js";

describe("the staging stack under the CrossGuard pack", () => {
  it("registers its Kubernetes resources with no mandatory violation", async () => {
    const resources = await registeredResources("staging");
    expect(resources.some((r) => r.type === "kubernetes:apps/v1:StatefulSet")).toBe(true);
    expect(await mandatoryViolations("staging", resources)).toEqual([]);
  });
});
