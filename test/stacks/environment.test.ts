import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import {
  EnvironmentConfigError,
  checkDeployableDigests,
  environmentFiles,
  loadEnvironmentFile,
  parseEnvironment,
  placeholderDigestKeys,
  readStackConfigFile,
  usesPlaceholderDigest,
} from "../../stacks/environment/load.js";
import { PlatformSpecError, synthesizeEnvironment } from "../../stacks/kubernetes/manifests.js";
import { thrown } from "../support/thrown.js";

const PROJECT_DIR = join(import.meta.dirname, "..", "..");
const scratch = mkdtempSync(join(tmpdir(), "zeroplane-env-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A committed stack file's zeroplane:* values, keyed by short key, as a mutable copy. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped YAML, edited freely by the tests
function values(environment: string): Record<string, any> {
  const config = readStackConfigFile(join(PROJECT_DIR, `Pulumi.${environment}.yaml`));
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config))
    out[key.replace(/^zeroplane:/, "")] = structuredClone(value);
  return out;
}

function failure(run: () => unknown): EnvironmentConfigError {
  const error = thrown(run);
  expect(error).toBeInstanceOf(EnvironmentConfigError);
  return error as EnvironmentConfigError;
}

describe("the committed environments", () => {
  it("are dev, prod and staging, and all load", () => {
    const found = environmentFiles(PROJECT_DIR);
    expect(found.map((f) => f.environment)).toEqual(["dev", "prod", "staging"]);
    for (const { path } of found) expect(loadEnvironmentFile(path).namespace).toMatch(/^zeroplane-/);
  });

  it("mark the committed prod digest as the placeholder users must replace", () => {
    expect(usesPlaceholderDigest(loadEnvironmentFile(join(PROJECT_DIR, "Pulumi.prod.yaml")))).toBe(true);
    const spec = values("prod");
    spec.image.digest = `sha256:${"ab".repeat(32)}`;
    expect(usesPlaceholderDigest(parseEnvironment("prod", spec, "x"))).toBe(true);
    spec.nats.image.digest = `sha256:${"cd".repeat(32)}`;
    spec.nats.exporterImage.digest = `sha256:${"ef".repeat(32)}`;
    expect(usesPlaceholderDigest(parseEnvironment("prod", spec, "x"))).toBe(false);
  });

  it("refuse to deploy production while any image digest is the placeholder, naming the key and the fix", () => {
    const spec = values("prod");
    const committed = parseEnvironment("prod", spec, "Pulumi.prod.yaml");
    expect(placeholderDigestKeys(committed)).toEqual([
      "zeroplane:image.digest",
      "zeroplane:nats.image.digest",
      "zeroplane:nats.exporterImage.digest",
    ]);
    const error = failure(() => checkDeployableDigests(committed));
    expect(error.key).toBe("zeroplane:image.digest");
    expect(error.message).toMatch(/all-zeros placeholder with production: true/);
    expect(error.message).toContain(
      "pulumi config set --path 'zeroplane:image.digest' sha256:<64 hex> --stack prod",
    );
    spec.image.digest = `sha256:${"ab".repeat(32)}`;
    spec.nats.image.digest = `sha256:${"cd".repeat(32)}`;
    expect(failure(() => checkDeployableDigests(parseEnvironment("prod", spec, "x"))).key).toBe(
      "zeroplane:nats.exporterImage.digest",
    );
    spec.nats.exporterImage.digest = `sha256:${"ef".repeat(32)}`;
    expect(() => checkDeployableDigests(parseEnvironment("prod", spec, "x"))).not.toThrow();
  });

  it("only warn about a placeholder digest outside production", () => {
    const spec = values("staging");
    spec.image = { repository: "registry.example/zeroplane", digest: `sha256:${"0".repeat(64)}` };
    const staging = parseEnvironment("staging", spec, "x");
    expect(placeholderDigestKeys(staging)).toEqual(["zeroplane:image.digest"]);
    expect(() => checkDeployableDigests(staging)).not.toThrow();
  });

  it("turn on NATS authentication in staging and prod, and NATS TLS for clients and routes in prod", () => {
    const staging = loadEnvironmentFile(join(PROJECT_DIR, "Pulumi.staging.yaml"));
    const prod = loadEnvironmentFile(join(PROJECT_DIR, "Pulumi.prod.yaml"));
    expect(staging.nats?.auth?.secretName).toBe("zeroplane-nats-auth");
    expect(prod.nats?.auth?.secretName).toBe("zeroplane-nats-auth");
    expect(prod.nats?.tls?.client?.secretName).toBe("zeroplane-nats-client-tls");
    expect(prod.nats?.tls?.cluster?.secretName).toBe("zeroplane-nats-cluster-tls");
  });

  it("require NATS authentication in production", () => {
    const spec = values("prod");
    delete spec.nats.auth;
    const error = failure(() => parseEnvironment("prod", spec, "x"));
    expect(error.key).toBe("zeroplane:nats.auth");
    expect(error.message).toMatch(
      /is required with production: true.*Fix: create a Secret with keys user and password/,
    );
  });

  it("require the NATS images to be pinned by digest in production", () => {
    const spec = values("prod");
    delete spec.nats.exporterImage;
    expect(() => parseEnvironment("prod", spec, "x")).toThrow(
      /zeroplane:nats.exporterImage.*pinned by digest/,
    );
  });

  it("switch AWS off in dev and on, with production guards, in prod", () => {
    const dev = loadEnvironmentFile(join(PROJECT_DIR, "Pulumi.dev.yaml"));
    const prod = loadEnvironmentFile(join(PROJECT_DIR, "Pulumi.prod.yaml"));
    expect(dev.aws).toEqual({ enabled: false });
    expect(dev.nats?.replicas).toBe(1);
    expect(prod.production).toBe(true);
    expect(prod.aws?.enabled).toBe(true);
    expect(prod.nats?.replicas).toBe(3);
    expect(prod.image.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(prod.agentServers.default?.autoscaling?.minReplicas).toBeGreaterThanOrEqual(2);
  });
});

describe("a bad environment spec", () => {
  it("names the key, the value and the fix for an even NATS cluster size", () => {
    const spec = values("staging");
    spec.nats.replicas = 2;
    const error = failure(() => parseEnvironment("staging", spec, "Pulumi.staging.yaml"));
    expect(error.key).toBe("zeroplane:nats.replicas");
    expect(error.value).toBe(2);
    expect(error.message).toBe(
      "Pulumi.staging.yaml: zeroplane:nats.replicas must be 1 or an odd number of at least 3 (JetStream needs a quorum); got 2. Fix: use 1 for development, 3 or 5 for production",
    );
  });

  it("names a value of the wrong type and says how to set it", () => {
    const spec = values("dev");
    spec.nats.replicas = "three";
    const error = failure(() => parseEnvironment("dev", spec, "Pulumi.dev.yaml"));
    expect(error.key).toBe("zeroplane:nats.replicas");
    expect(error.message).toContain('got "three"');
    expect(error.message).toContain("pulumi config set --path 'zeroplane:nats.replicas' <value> --stack dev");
  });

  it("rejects an unknown top-level key (a typo) instead of ignoring it", () => {
    const spec = values("dev");
    spec.natz = { replicas: 3 };
    const error = failure(() => parseEnvironment("dev", spec, "Pulumi.dev.yaml"));
    expect(error.key).toBe("zeroplane:natz");
    expect(error.message).toContain("is not a known setting");
  });

  it("rejects an unknown nested key with its full path", () => {
    const spec = values("dev");
    spec.agentServers.default.replica = 2;
    const error = failure(() => parseEnvironment("dev", spec, "Pulumi.dev.yaml"));
    expect(error.key).toBe("zeroplane:agentServers.default.replica");
  });

  it("reports a missing required key", () => {
    const spec = values("dev");
    delete spec.namespace;
    const error = failure(() => parseEnvironment("dev", spec, "Pulumi.dev.yaml"));
    expect(error.key).toBe("zeroplane:namespace");
    expect(error.message).toContain("is required; got nothing (the key is missing)");
  });

  it("rejects a malformed digest and a 'latest' tag", () => {
    const spec = values("dev");
    spec.image = { repository: "registry.example.com/zeroplane", digest: "sha256:1234" };
    expect(failure(() => parseEnvironment("dev", spec, "x")).key).toBe("zeroplane:image.digest");
    spec.image = { repository: "registry.example.com/zeroplane", tag: "latest" };
    expect(failure(() => parseEnvironment("dev", spec, "x")).key).toBe("zeroplane:image.tag");
  });

  it("needs an image repository when AWS is off (no ECR repository to default to)", () => {
    const spec = values("dev");
    delete spec.image.repository;
    expect(failure(() => parseEnvironment("dev", spec, "x")).key).toBe("zeroplane:image.repository");
  });

  it("needs the VPC when an NLB gets a security group", () => {
    const spec = values("staging");
    delete spec.aws.vpcId;
    const error = failure(() => parseEnvironment("staging", spec, "x"));
    expect(error.key).toBe("zeroplane:aws.vpcId");
    expect(error.message).toContain('agent-server group "default" is exposed through an NLB');
  });

  it("needs a SecretStore for an external CURVE key when AWS is off (the stack only creates one for AWS)", () => {
    const spec = values("dev");
    spec.curve = { mode: "external" };
    expect(failure(() => parseEnvironment("dev", spec, "x")).key).toBe("zeroplane:curve.secretStoreRef");
    spec.curve = { mode: "external", secretStoreRef: { name: "vault", kind: "ClusterSecretStore" } };
    expect(parseEnvironment("dev", spec, "x").curve).toMatchObject({ mode: "external" });
  });

  it("rejects an account id that is not 12 digits (for example an unquoted number)", () => {
    const spec = values("prod");
    spec.aws.accountId = 12345;
    expect(failure(() => parseEnvironment("prod", spec, "x")).key).toBe("zeroplane:aws.accountId");
  });

  it("ignores cluster access, which may be an encrypted kubeconfig, when read without Pulumi", () => {
    const path = join(scratch, "Pulumi.ci.yaml");
    const config = readStackConfigFile(join(PROJECT_DIR, "Pulumi.dev.yaml"));
    writeFileSync(
      path,
      stringify({
        config: { ...config, "zeroplane:kubernetes": { kubeconfig: { secure: "v1:abc" }, context: "ci" } },
      }),
    );
    expect(loadEnvironmentFile(path).kubernetes).toBeUndefined();
  });

  it("refuses an encrypted value under zeroplane:* when read without Pulumi", () => {
    const path = join(scratch, "Pulumi.secret.yaml");
    const config = readStackConfigFile(join(PROJECT_DIR, "Pulumi.dev.yaml"));
    writeFileSync(path, stringify({ config: { ...config, "zeroplane:namespace": { secure: "v1:abc" } } }));
    const error = failure(() => loadEnvironmentFile(path));
    expect(error.key).toBe("zeroplane:namespace");
    expect(error.message).toContain("is encrypted");
  });
});

describe("the production guards", () => {
  it("require the image to be pinned by digest", () => {
    const spec = values("prod");
    spec.image = { tag: "0.1.0" };
    expect(failure(() => parseEnvironment("prod", spec, "x")).key).toBe("zeroplane:image.digest");
  });

  it("require JetStream on three or more NATS servers", () => {
    const spec = values("prod");
    spec.nats.replicas = 1;
    expect(failure(() => parseEnvironment("prod", spec, "x")).key).toBe("zeroplane:nats.replicas");
  });

  it("require at least two agent servers", () => {
    const spec = values("prod");
    spec.agentServers.default.autoscaling.minReplicas = 1;
    spec.agentServers.default.minAvailable = 0;
    expect(failure(() => parseEnvironment("prod", spec, "x")).key).toBe(
      "zeroplane:agentServers.default.autoscaling",
    );
  });

  it("refuse a load balancer open to the whole internet", () => {
    const spec = values("prod");
    spec.agentServers.default.exposure.sourceRanges = ["0.0.0.0/0"];
    expect(failure(() => parseEnvironment("prod", spec, "x")).key).toBe(
      "zeroplane:agentServers.default.exposure.sourceRanges",
    );
  });

  it("require the CURVE key to live outside the cluster", () => {
    const spec = values("prod");
    spec.curve = { mode: "generated" };
    expect(failure(() => parseEnvironment("prod", spec, "x")).key).toBe("zeroplane:curve.mode");
  });
});

describe("a spec the platform constructs reject", () => {
  it("fails synthesis naming the config key of the agent-server group", () => {
    const spec = values("staging");
    spec.agentServers.default.minAvailable = 5; // more than the HPA's minReplicas
    const env = parseEnvironment("staging", spec, "Pulumi.staging.yaml");
    const error = thrown(() => synthesizeEnvironment(env));
    expect(error).toBeInstanceOf(PlatformSpecError);
    expect((error as PlatformSpecError).key).toBe("zeroplane:agentServers.default.minAvailable");
    expect((error as Error).message).toMatch(
      /^Pulumi\.staging\.yaml: zeroplane:agentServers\.default\.minAvailable .*Fix: /,
    );
  });
});
