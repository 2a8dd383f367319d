import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderDeployTree } from "../../stacks/gitops/render.js";
import { PROJECT_DIR, ofType, runStack, type StackRun } from "./support/stack-harness.js";

let run: StackRun;
beforeAll(async () => {
  run = await runStack("dev");
}, 120_000);

describe("the dev stack", () => {
  it("creates no AWS resources at all, not even a provider", () => {
    const aws = run.resources.filter((r) => r.type.startsWith("aws:") || r.type === "pulumi:providers:aws");
    expect(aws).toEqual([]);
    expect(run.generatedSecretKeys).toEqual([]);
    expect(run.invokes).toEqual([]);
  });

  it("deploys to the existing cluster through a provider with the configured context", () => {
    const providers = ofType(run, "pulumi:providers:kubernetes");
    expect(providers).toHaveLength(1);
    expect(providers[0]!.inputs.context).toBe("kind-zeroplane");
  });

  it("deploys the namespace, one agent server and a one-node NATS cluster with JetStream R1", () => {
    const namespaces = ofType(run, "kubernetes:core/v1:Namespace");
    expect(namespaces.map((n) => (n.inputs.metadata as { name: string }).name)).toEqual(["zeroplane-dev"]);
    const nats = ofType(run, "kubernetes:apps/v1:StatefulSet").find((s) => s.name.includes("nats"));
    expect((nats!.inputs.spec as { replicas: number }).replicas).toBe(1);
    const deployment = ofType(run, "kubernetes:apps/v1:Deployment")[0]!;
    const env = (
      deployment.inputs.spec as {
        template: { spec: { containers: { env: { name: string; value?: string }[] }[] } };
      }
    ).template.spec.containers[0]!.env;
    expect(env.find((e) => e.name === "ZEROPLANE_NATS_REPLICAS")?.value).toBe("1");
  });

  it("generates the CURVE key in the cluster (keygen Job), with no ExternalSecret", () => {
    expect(ofType(run, "kubernetes:batch/v1:Job").map((j) => j.name)).toContain(
      "zeroplane-dev/zeroplane-keygen",
    );
    expect(run.resources.filter((r) => r.type.includes("ExternalSecret"))).toEqual([]);
  });

  it("deploys exactly the objects `npm run synth` writes to deploy/dev", () => {
    const deployed = run.resources
      .filter((r) => /^kubernetes:(?!yaml:)/.test(r.type))
      .map((r) => `${r.type.split(":").pop()}/${r.name.split("/").pop()}`)
      .sort();
    const synthesized = [...renderDeployTree(PROJECT_DIR).entries()]
      .filter(([path]) => path.startsWith("dev/") && !path.endsWith("kustomization.yaml"))
      .map(([, content]) => parse(content) as { kind: string; metadata: { name: string } })
      .map((object) => `${object.kind}/${object.metadata.name}`)
      .sort();
    expect(deployed).toEqual(synthesized);
  });

  it("registers every resource with an id", () => {
    expect(run.resources.length).toBeGreaterThan(20);
    for (const resource of run.resources) expect(resource.id, resource.name).toMatch(/.+/);
  });

  it("outputs in-cluster endpoints, the image and where to find the public key", () => {
    expect(run.resolved.environment).toBe("dev");
    expect(run.resolved.endpoints).toEqual({
      "zeroplane-default": {
        router: "tcp://zeroplane-default.zeroplane-dev.svc.cluster.local:5555",
        events: "tcp://zeroplane-default.zeroplane-dev.svc.cluster.local:5556",
      },
      // Multi-server placement: the client resolves the headless name to every ready server.
      "zeroplane-default-headless": {
        router: "dns://zeroplane-default-headless.zeroplane-dev.svc.cluster.local:5555",
        events: "dns://zeroplane-default-headless.zeroplane-dev.svc.cluster.local:5556",
      },
    });
    expect(run.resolved.image).toBe("registry.example.com/zeroplane/runtime:0.1.0");
    expect(run.resolved.imageRepositoryUrl).toBe("registry.example.com/zeroplane/runtime");
    expect(String(run.resolved.curvePublicKey)).toContain("zeroplane-curve-public");
  });
});
