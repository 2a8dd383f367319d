/** CI gate through the CrossGuard pack: the dev Pulumi program under mocks (one file per stack: Pulumi's runtime state is per process). */
import { describe, expect, it } from "vitest";
import { mandatoryViolations, registeredResources } from "./pulumi-stack.js";

describe("the dev stack under the CrossGuard pack", () => {
  it("registers its Kubernetes resources with no mandatory violation", async () => {
    const resources = await registeredResources("dev");
    expect(resources.some((r) => r.type === "kubernetes:apps/v1:StatefulSet")).toBe(true);
    expect(await mandatoryViolations("dev", resources)).toEqual([]);
  });
});
