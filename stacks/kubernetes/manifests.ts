/**
 * One environment's Kubernetes objects: the ZeroplanePlatform chart plus, with AWS on, the
 * SecretStore wiring. Built with cdk8s (construct validations run) and returned as plain objects,
 * for the Pulumi program (ConfigGroups) and for GitOps synthesis (YAML files) alike.
 */
import { App, Chart } from "cdk8s";
import { ConstructPropsError, ZeroplanePlatform, type ClientService } from "../../constructs/index.js";
import { configKey, type Environment } from "../environment/load.js";
import { needsAwsSecretStore, platformProps } from "../platform-props.js";
import { AwsSecretStore } from "./secret-store.js";

/** A Kubernetes object as synthesized. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
}

/** The platform refused the spec; the message names the config key, the value and the fix. */
export class PlatformSpecError extends Error {
  constructor(
    /** Config key at fault, e.g. `zeroplane:agentServers.default.replicas`. */
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = "PlatformSpecError";
  }
}

/** One environment's objects, and the Services clients reach its agent servers through. */
export interface SynthesizedEnvironment {
  /** Every object, in emission order, validated (`node.addValidation` checks ran). */
  readonly objects: KubeObject[];
  /** The agent servers' client Services, sorted by name (the stack's endpoints). */
  readonly clientServices: readonly ClientService[];
}

/** Synthesizes the environment. Throws PlatformSpecError when a construct rejects the spec. */
export function synthesizeEnvironment(env: Environment): SynthesizedEnvironment {
  const app = new App({ outdir: "dist/unused-synth-output" });
  const chart = new Chart(app, env.environment, { disableResourceNameHashes: true });
  try {
    const platform = new ZeroplanePlatform(chart, "platform", platformProps(env));
    if (needsAwsSecretStore(env) && env.aws?.enabled)
      new AwsSecretStore(chart, "aws-secret-store", env, env.aws);
    // toJson() runs every node.addValidation check, then renders the objects in emission order.
    const objects = chart.toJson() as KubeObject[];
    return { objects, clientServices: platform.clientServices };
  } catch (error) {
    if (!(error instanceof ConstructPropsError)) throw error;
    // The error's path is the config key's: the props key groups by name, as the config does.
    const key = configKey(error.path);
    throw new PlatformSpecError(key, `${env.source}: ${key} (platform prop ${error.message})`);
  }
}

/** Namespaces and CRDs: what the rest needs to exist first. */
export function isFoundation(object: KubeObject): boolean {
  return object.kind === "Namespace" || object.kind === "CustomResourceDefinition";
}
