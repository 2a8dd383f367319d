/**
 * Pulumi type tokens for Kubernetes resources, such as `kubernetes:apps/v1:Deployment`, mapped
 * back to apiVersion and kind. Components (yaml, helm, kustomize), patches and lists are skipped:
 * their children are registered as ordinary resources and checked one by one.
 */

const SKIPPED_GROUPS = new Set(["yaml", "helm.sh", "kustomize"]);

export interface KubernetesType {
  readonly apiVersion: string;
  readonly kind: string;
}

export function kubernetesTypeOf(type: string): KubernetesType | undefined {
  const match = /^kubernetes:([^:/]+)\/([^:/]+):([A-Za-z0-9]+)$/.exec(type);
  if (!match) return undefined;
  const [, group = "", version = "", kind = ""] = match;
  if (SKIPPED_GROUPS.has(group) || kind.endsWith("Patch") || kind.endsWith("List")) return undefined;
  return { apiVersion: group === "core" ? version : `${group}/${version}`, kind };
}

/** The Pulumi type token of a Kubernetes apiVersion and kind. */
export function pulumiTypeOf(apiVersion: string, kind: string): string {
  return `kubernetes:${apiVersion.includes("/") ? apiVersion : `core/${apiVersion}`}:${kind}`;
}

/** The stack name in a URN (`urn:pulumi:<stack>::<project>::<type>::<name>`). */
export function stackOfUrn(urn: string): string | undefined {
  const match = /^urn:pulumi:([^:]+)::/.exec(urn);
  return match?.[1];
}
