/**
 * Every object of every example environment validates against the strict Kubernetes 1.27 and CRD
 * schemas, every pod passes Pod Security "restricted" (and our hardening on top), and synthesis is
 * byte-identical run to run. The checkers themselves are shown to catch violations, so a pass means something.
 */
import { describe, expect, it } from "vitest";
import { EXAMPLE_ENVIRONMENTS, type ExampleEnvironment } from "../../constructs/examples.js";
import { validateObject, validateObjects, schemaFileName } from "../support/k8s-schema.js";
import { podSecurityViolations, podTemplates } from "../support/pod-security.js";
import { exampleSpec, find, ofKind, synth, type K8sObject } from "./fixtures.js";

const environments = Object.keys(EXAMPLE_ENVIRONMENTS) as ExampleEnvironment[];

describe("the example environments", () => {
  it.each(environments)("%s: every object validates against the strict 1.27 / CRD schemas", (env) => {
    const { objects } = synth(exampleSpec(env));
    expect(objects.length).toBeGreaterThan(15);
    expect(validateObjects(objects)).toEqual([]);
  });

  it.each(environments)("%s: every pod passes Pod Security restricted and our hardening", (env) => {
    const { objects } = synth(exampleSpec(env));
    const pods = objects.flatMap((object) => podTemplates(object));
    expect(pods.length).toBeGreaterThanOrEqual(2);
    expect(podSecurityViolations(objects, "restricted")).toEqual([]);
    expect(podSecurityViolations(objects, "hardened")).toEqual([]);
  });

  it.each(environments)("%s: synthesizes byte-identical YAML twice", (env) => {
    expect(synth(exampleSpec(env)).yaml).toBe(synth(exampleSpec(env)).yaml);
  });

  it.each(environments)("%s: names every object without hash suffixes and in its namespace", (env) => {
    const spec = exampleSpec(env);
    const { objects } = synth(spec);
    for (const object of objects) {
      expect(object.metadata.name).toMatch(/^(zeroplane|zp)[-a-z0-9]*$/);
      if (object.kind !== "Namespace") expect(object.metadata.namespace).toBe(spec.namespace);
    }
    const names = objects.map((object) => `${object.kind}/${object.metadata.name}`);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(environments)("%s: puts no secret material in any object", (env) => {
    const { objects, yaml } = synth(exampleSpec(env));
    expect(ofKind(objects, "Secret")).toEqual([]);
    // A CURVE secret key file never appears as a value, only as a path or a Secret key name.
    expect(yaml).not.toMatch(/server\.key_secret:\s*\S{40}/);
    for (const configMap of ofKind(objects, "ConfigMap")) {
      for (const [key, value] of Object.entries(configMap.data ?? {})) {
        expect(key).not.toMatch(/secret|password|token/i);
        expect(value).not.toMatch(/password:\s*[^$\s]/);
      }
    }
  });

  it("prod: is the production shape (3 NATS servers, HPAs, NLBs, an ExternalSecret)", () => {
    const { objects } = synth(exampleSpec("prod"));
    expect(find(objects, "StatefulSet", "zeroplane-nats").spec.replicas).toBe(3);
    expect(ofKind(objects, "HorizontalPodAutoscaler").map((o) => o.metadata.name)).toEqual([
      "zeroplane-default",
      "zeroplane-internal",
    ]);
    expect(ofKind(objects, "Service").filter((o) => o.spec.type === "LoadBalancer")).toHaveLength(2);
    expect(find(objects, "ExternalSecret", "zeroplane-curve").apiVersion).toBe("external-secrets.io/v1");
    expect(ofKind(objects, "Job")).toEqual([]);
  });

  it("dev: is the development shape (1 NATS server, generated keys, no monitoring)", () => {
    const { objects } = synth(exampleSpec("dev"));
    expect(find(objects, "StatefulSet", "zeroplane-nats").spec.replicas).toBe(1);
    expect(find(objects, "Job", "zeroplane-keygen")).toBeDefined();
    expect(ofKind(objects, "PrometheusRule")).toEqual([]);
  });
});

describe("the strict schema validator", () => {
  const deployment = (): K8sObject =>
    structuredClone(find(synth(exampleSpec("dev")).objects, "Deployment", "zeroplane-default"));

  it("picks the schema file from apiVersion and kind", () => {
    expect(schemaFileName("apps/v1", "Deployment")).toBe("deployment-apps-v1.json");
    expect(schemaFileName("v1", "Service")).toBe("service-v1.json");
    expect(schemaFileName("rbac.authorization.k8s.io/v1", "RoleBinding")).toBe("rolebinding-rbac-v1.json");
    expect(schemaFileName("external-secrets.io/v1", "ExternalSecret")).toBe(
      "externalsecret-external-secrets-v1.json",
    );
  });

  it("rejects an unknown field", () => {
    const object = deployment();
    object.spec.template.spec.containers[0].unknownField = true;
    expect(validateObject(object).join("\n")).toMatch(/additional properties \(unknownField\)/);
  });

  it("rejects a wrong type", () => {
    const object = deployment();
    object.spec.template.spec.terminationGracePeriodSeconds = "35";
    expect(validateObject(object)).not.toEqual([]);
  });

  it("rejects a kind it has no schema for", () => {
    expect(validateObject({ apiVersion: "v1", kind: "Pod", metadata: { name: "p" } })[0]).toMatch(
      /no vendored schema/,
    );
  });
});

describe("the Pod Security checker", () => {
  const job = (): K8sObject =>
    structuredClone(find(synth(exampleSpec("dev")).objects, "Job", "zeroplane-keygen"));

  it("flags a container that may escalate privileges", () => {
    const object = job();
    delete object.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation;
    expect(podSecurityViolations([object], "restricted")).toEqual([
      'Job/zeroplane-keygen: container "keygen" does not set allowPrivilegeEscalation: false (pss-allow-privilege-escalation)',
    ]);
  });

  it("flags hostPath volumes, added capabilities, root users and missing seccomp", () => {
    const object = job();
    const pod = object.spec.template.spec;
    pod.volumes.push({ name: "host", hostPath: { path: "/" } });
    pod.containers[0].securityContext.capabilities.add = ["SYS_ADMIN"];
    pod.securityContext.runAsUser = 0;
    delete pod.securityContext.seccompProfile;
    delete pod.containers[0].securityContext.seccompProfile;
    const found = podSecurityViolations([object], "restricted").join("\n");
    expect(found).toMatch(/hostPath/);
    expect(found).toMatch(/adds capability SYS_ADMIN/);
    expect(found).toMatch(/the pod sets runAsUser: 0/);
    expect(found).toMatch(/seccomp/);
  });

  it("flags a writable root filesystem and a low uid at the hardened level only", () => {
    const object = job();
    const context = object.spec.template.spec.containers[0].securityContext;
    context.readOnlyRootFilesystem = false;
    context.runAsUser = 1000;
    expect(podSecurityViolations([object], "restricted")).toEqual([]);
    expect(podSecurityViolations([object], "hardened")).toHaveLength(2);
  });
});
