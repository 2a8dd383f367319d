/** CI gate through the CrossGuard pack: the dev Pulumi program under mocks (one file per stack: Pulumi's runtime state is per process). */
import { describe, it } from "vitest";
import { expectStackPassesPack } from "./pulumi-stack.js";

describe("the dev stack under the CrossGuard pack", () => {
  it("registers every Kubernetes object with no mandatory violation", async () => {
    await expectStackPassesPack("dev", []);
  });
});
