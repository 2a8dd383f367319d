/** Service exposure: which LoadBalancer Services face the outside. */
import type { K8sObject } from "../core/types.js";
import { at, namespaceOf, nameOf, str, stringMap } from "./read.js";

const AWS_SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme";
const AWS_INTERNAL = "service.beta.kubernetes.io/aws-load-balancer-internal";
const AZURE_INTERNAL = "service.beta.kubernetes.io/azure-load-balancer-internal";
const GKE_TYPE = "networking.gke.io/load-balancer-type";

export const LOAD_BALANCER_SCHEME_ANNOTATION = AWS_SCHEME;

/**
 * Whether a Service is a LoadBalancer reachable from outside the VPC. Anything not explicitly
 * internal counts as external (the in-tree AWS provider defaults to internet-facing).
 */
export function isExternalLoadBalancer(service: K8sObject): boolean {
  if (service.kind !== "Service" || str(at(service, "spec", "type")) !== "LoadBalancer") return false;
  const annotations = stringMap(at(service, "metadata", "annotations"));
  if (annotations[AWS_SCHEME] === "internal") return false;
  if (annotations[AWS_INTERNAL] === "true" || annotations[AWS_INTERNAL] === "0.0.0.0/0") return false;
  if (annotations[AZURE_INTERNAL] === "true" || annotations[GKE_TYPE] === "Internal") return false;
  return true;
}

/** The Services among `objects` named `name` in `namespace` (normally one, or none). */
export function servicesNamed(
  objects: readonly K8sObject[],
  name: string | undefined,
  namespace: string,
): K8sObject[] {
  return objects.filter((o) => o.kind === "Service" && nameOf(o) === name && namespaceOf(o) === namespace);
}
