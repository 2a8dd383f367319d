import * as pulumi from "@pulumi/pulumi";
import { it, expect } from "vitest";

it("dynamic", async () => {
  const seen: pulumi.runtime.MockResourceArgs[] = [];
  await pulumi.runtime.setMocks({
    newResource: (args) => { seen.push(args); return { id: args.name + "-id", state: { ...args.inputs, publicKey: "p", secretKey: "s" } }; },
    call: (args) => args.inputs,
  }, "zeroplane", "dev", false);
  const { CurveServerKey } = await import("../../stacks/aws/curve-key.js");
  const key = new CurveServerKey("k");
  const pk = await new Promise((r) => key.publicKey.apply(r));
  expect(pk).toBe("p");
  const prov = seen[0]!.inputs.__provider as string;
  console.log(String(prov).slice(0, 3000));
});
