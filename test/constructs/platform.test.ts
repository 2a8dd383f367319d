/**
 * ZeroplanePlatform as a whole: the composite's API, the namespace, whole-tree validations and
 * deterministic output.
 */
import { ApiObject, App, Chart, JsonPatch } from "cdk8s";
import * as k8s from "cdk8s-plus-27/lib/imports/k8s.js";
import { describe, expect, it } from "vitest";
import { ZeroplanePlatform, synthesizePlatform } from "../../constructs/index.js";
import { exampleSpec, find, minimalSpec, ofKind, synth, type K8sObject } from "./fixtures.js";

describe("ZeroplanePlatform", () => {
  it("synthesizes into an App, a Chart, YAML and plain objects that agree", () => {
    const result = synthesizePlatform(exampleSpec("staging"));
    expect(result.chart.node.id).toBe("zeroplane-staging");
    expect(result.objects).toEqual(result.chart.toJson());
    expect(result.yaml).toBe(result.app.synthYaml());
    expect(result.platform.agentServers.map((server) => server.serviceName)).toEqual([
      "zeroplane-default",
      "zeroplane-batch",
    ]);
    expect(result.platform.nats?.clientUrl).toBe(
      "nats://zeroplane-nats.zeroplane-staging.svc.cluster.local:4222",
    );
  });

  it("exposes the Services clients connect through, each matching a synthesized Service", () => {
    const result = synthesizePlatform(exampleSpec("prod"));
    const services = result.platform.clientServices;
    expect(services.map((service) => service.name)).toEqual([...services.map((s) => s.name)].sort());
    const headless = services.find((service) => service.name === "zeroplane-default-headless");
    expect(headless).toMatchObject({ scheme: "dns", loadBalancer: false, namespace: "zeroplane-prod" });
    expect(services.find((service) => service.name === "zeroplane-default-public")).toMatchObject({
      scheme: "tcp",
      loadBalancer: true,
    });
    for (const service of services) {
      const object = find(result.objects as K8sObject[], "Service", service.name);
      expect(object.metadata.namespace).toBe(service.namespace);
      expect(object.spec.type === "LoadBalancer").toBe(service.loadBalancer);
      expect(object.spec.clusterIP === "None").toBe(service.scheme === "dns");
      const ports = object.spec.ports as { name: string; port: number }[];
      expect(ports.find((port) => port.name === "router")?.port).toBe(service.ports.router);
      expect(ports.find((port) => port.name === "events")?.port).toBe(service.ports.stream);
    }
    const routerServices = ofKind(result.objects as K8sObject[], "Service").filter((object) =>
      (object.spec.ports as { name: string }[]).some((port) => port.name === "router"),
    );
    expect(routerServices.map((object) => object.metadata.name).sort()).toEqual(services.map((s) => s.name));
  });

  it("creates the namespace with Pod Security restricted enforced, unless told not to", () => {
    const objects = synth(exampleSpec("dev")).objects;
    expect(find(objects, "Namespace", "zeroplane-dev").metadata.labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
      "pod-security.kubernetes.io/enforce-version": "v1.27",
    });
    expect(ofKind(synth(minimalSpec({ createNamespace: false })).objects, "Namespace")).toEqual([]);
  });

  it("uses the platform name as the prefix of every object", () => {
    const objects = synth(minimalSpec({ name: "zp-blue" })).objects;
    for (const object of objects.filter((o) => o.kind !== "Namespace"))
      expect(object.metadata.name).toMatch(/^zp-blue-/);
  });

  it("gives identical output whatever order labels and keys are given in", () => {
    const keys = ["rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"];
    const withOrder = (labels: Record<string, string>, publicKeys: string[]) =>
      synth(minimalSpec({ labels, allowlist: { source: "publicKeys", publicKeys } }));
    const a = withOrder({ b: "2", a: "1" }, keys);
    const b = withOrder({ a: "1", b: "2" }, [...keys].reverse());
    expect(a.yaml).toBe(b.yaml);
  });

  it("refuses at synthesis a Service someone added that selects no pods", () => {
    const app = new App();
    const chart = new Chart(app, "c");
    const platform = new ZeroplanePlatform(chart, "p", minimalSpec());
    new k8s.KubeService(platform, "stray", {
      metadata: { name: "stray" },
      spec: { selector: { app: "nothing" }, ports: [{ port: 80 }] },
    });
    expect(() => app.synthYaml()).toThrow(
      /Service\/stray selects no pods .*Fix: match a workload's pod labels/,
    );
  });

  it("refuses at synthesis static replicas added to an HPA-managed workload", () => {
    const app = new App();
    const chart = new Chart(app, "c");
    const platform = new ZeroplanePlatform(
      chart,
      "p",
      minimalSpec({ agentServers: [{ name: "default", autoscaling: { minReplicas: 2, maxReplicas: 4 } }] }),
    );
    const deployment = platform.node
      .findAll()
      .find((node): node is ApiObject => ApiObject.isApiObject(node) && node.kind === "Deployment")!;
    deployment.addJsonPatch(JsonPatch.add("/spec/replicas", 3));
    expect(() => app.synthYaml()).toThrow(
      /Deployment\/zeroplane-default sets replicas 3 but HorizontalPodAutoscaler/,
    );
  });

  it("refuses at synthesis a second object with the same kind and name", () => {
    const app = new App();
    const chart = new Chart(app, "c");
    const platform = new ZeroplanePlatform(chart, "p", minimalSpec());
    new k8s.KubeConfigMap(platform, "dup", { metadata: { name: "zeroplane-keygen-script" }, data: {} });
    expect(() => app.synthYaml()).toThrow(/ConfigMap\/zeroplane-keygen-script is emitted twice/);
  });
});
