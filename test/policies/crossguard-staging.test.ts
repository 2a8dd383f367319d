/** CI gate through the CrossGuard pack: the staging Pulumi program (AWS and Kubernetes) under mocks (one file per stack: Pulumi's runtime state is per process). */
import { describe, it } from "vitest";
import { AWS_RESOURCE_TYPES, expectStackPassesPack } from "./pulumi-stack.js";

describe("the staging stack under the CrossGuard pack", () => {
  it("registers its AWS resources and every Kubernetes object, with no mandatory violation", async () => {
    await expectStackPassesPack("staging", AWS_RESOURCE_TYPES);
  });
});
