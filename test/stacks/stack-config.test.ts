import { describe, expect, it } from "vitest";
import { EnvironmentConfigError } from "../../stacks/environment/load.js";
import { isSecretValue, ofType, runStack } from "./support/stack-harness.js";

async function rejection(
  environment: string,
  overrides: Record<string, unknown>,
): Promise<EnvironmentConfigError> {
  const error = await runStack(environment, overrides).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(EnvironmentConfigError);
  return error as EnvironmentConfigError;
}

describe("the program reading config through pulumi.Config", () => {
  it("fails on a bad value with the key, the value, the stack and the fix", async () => {
    const error = await rejection("dev", {
      "zeroplane:nats": { replicas: 2, jetstream: { storageSize: "1Gi" } },
    });
    expect(error.key).toBe("zeroplane:nats.replicas");
    expect(error.value).toBe(2);
    expect(error.message).toMatch(
      /^stack dev \(Pulumi\.dev\.yaml\): zeroplane:nats\.replicas .*got 2\. Fix: /,
    );
  }, 60_000);

  it("fails on an unknown zeroplane key instead of ignoring it", async () => {
    const error = await rejection("dev", { "zeroplane:namepsace": "zeroplane-dev" });
    expect(error.key).toBe("zeroplane:namepsace");
  }, 60_000);

  it("reads numbers and booleans that the engine passes as text", async () => {
    const error = await rejection("prod", {
      "zeroplane:production": "true",
      "zeroplane:nats": { replicas: 1 },
    });
    expect(error.key).toBe("zeroplane:nats.replicas");
    expect(error.message).toContain("production: true");
  }, 60_000);

  it("keeps a kubeconfig given as contents secret in the provider's inputs", async () => {
    const kubeconfig =
      "apiVersion: v1\nkind: Config\nusers: [{ name: ci, user: { token: not-a-real-token } }]\n";
    const run = await runStack("dev", { "zeroplane:kubernetes": { kubeconfig, context: "ci" } });
    const provider = ofType(run, "pulumi:providers:kubernetes")[0]!;
    expect(isSecretValue(provider.inputs.kubeconfig)).toBe(true);
    expect(provider.inputs.context).toBe("ci");
  }, 60_000);
});
