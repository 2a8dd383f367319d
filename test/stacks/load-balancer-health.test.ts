/**
 * The committed AWS environments admit the NLB's health checks from the VPC (zeroplane:aws.vpcCidr)
 * without the config having to repeat it, and the NLB security group lets them out.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_PORTS } from "../../runtime/config/index.js";
import { loadEnvironmentFile } from "../../stacks/environment/load.js";
import { NLB_HEALTH_CHECK_PORT } from "../../stacks/aws/index.js";
import { synthesizeEnvironment } from "../../stacks/kubernetes/manifests.js";

const PROJECT_DIR = join(import.meta.dirname, "..", "..");

describe.each(["staging", "prod"])("the %s stack", (environment) => {
  const env = loadEnvironmentFile(join(PROJECT_DIR, `Pulumi.${environment}.yaml`));
  const objects = synthesizeEnvironment(env).objects as unknown as {
    kind: string;
    metadata: { name: string; annotations?: Record<string, string> };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifest JSON read deeply
    spec: any;
  }[];

  it("admits GET /readyz on the metrics port from the VPC CIDR", () => {
    const vpcCidr = env.aws?.enabled ? env.aws.vpcCidr : undefined;
    expect(vpcCidr).toMatch(/^10\./);
    const policy = objects.find(
      (o) => o.kind === "NetworkPolicy" && o.metadata.name === "zeroplane-default",
    )!;
    expect(policy.spec.ingress).toContainEqual({
      from: [{ ipBlock: { cidr: vpcCidr } }],
      ports: [{ protocol: "TCP", port: DEFAULT_PORTS.http }],
    });
  });

  it("health-checks the port the NLB security group lets out", () => {
    expect(NLB_HEALTH_CHECK_PORT).toBe(DEFAULT_PORTS.http);
    const service = objects.find(
      (o) => o.kind === "Service" && o.metadata.name === "zeroplane-default-public",
    )!;
    expect(
      service.metadata.annotations?.["service.beta.kubernetes.io/aws-load-balancer-healthcheck-port"],
    ).toBe(String(NLB_HEALTH_CHECK_PORT));
  });
});
