/**
 * Every Secret and ConfigMap a pod uses is created by the chart or listed as operator-created
 * (issue 16, item 4: staging mounted a ConfigMap nothing created and no doc named).
 */
import { describe, expect, it } from "vitest";
import { OPERATOR_CREATED_ANNOTATION } from "../../runtime/config/names.js";
import { violationsOf } from "../policies/support.js";
import { exampleSpec, find, minimalSpec, synth } from "./fixtures.js";

const annotationOf = (objects: ReturnType<typeof synth>["objects"], kind: string, name: string) =>
  find(objects, kind, name).spec.template.metadata.annotations?.[OPERATOR_CREATED_ANNOTATION];

describe("the operator-created annotation", () => {
  it("lists the existing allowlist, the CURVE Secret and the NATS Secrets the operator makes", () => {
    const staging = synth(exampleSpec("staging")).objects;
    expect(annotationOf(staging, "Deployment", "zeroplane-default")).toBe(
      "ConfigMap/zeroplane-clients, Secret/zeroplane-curve, Secret/zeroplane-nats-auth",
    );
    expect(annotationOf(staging, "StatefulSet", "zeroplane-nats")).toBe("Secret/zeroplane-nats-auth");
  });

  it("leaves out what the chart creates itself (public-key allowlist, generated keys)", () => {
    const objects = synth(
      minimalSpec({
        allowlist: { source: "publicKeys", publicKeys: ["rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"] },
        curve: { mode: "generated" },
      }),
    ).objects;
    expect(annotationOf(objects, "Deployment", "zeroplane-default")).toBeUndefined();
  });

  it.each(["dev", "staging", "prod"] as const)("%s: passes referenced-objects-exist", (env) => {
    expect(violationsOf("referenced-objects-exist", synth(exampleSpec(env)).objects)).toEqual([]);
  });

  it("without it, the rule names every object nothing creates", () => {
    const staging = synth(exampleSpec("staging")).objects;
    delete find(staging, "Deployment", "zeroplane-default").spec.template.metadata.annotations;
    const messages = violationsOf("referenced-objects-exist", staging).map((v) => v.message);
    expect(messages).toEqual([
      expect.stringContaining('Secret "zeroplane-curve"'),
      expect.stringContaining('ConfigMap "zeroplane-clients"'),
      expect.stringContaining('Secret "zeroplane-nats-auth"'),
    ]);
  });
});
