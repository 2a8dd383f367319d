/** The kinds the rule set knows. Anything else is reported as unknown and skipped. */
import { WORKLOAD_KINDS } from "./workloads.js";

/** Cluster-scoped kinds (no namespace). */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  "Namespace",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "PriorityClass",
  "StorageClass",
  "PersistentVolume",
  "IngressClass",
  "ValidatingWebhookConfiguration",
  "MutatingWebhookConfiguration",
]);

/** Every kind the kit emits or a rule reads. */
export const KNOWN_KINDS: ReadonlySet<string> = new Set([
  ...CLUSTER_SCOPED_KINDS,
  ...WORKLOAD_KINDS,
  "Service",
  "ConfigMap",
  "Secret",
  "ServiceAccount",
  "Role",
  "RoleBinding",
  "NetworkPolicy",
  "PodDisruptionBudget",
  "HorizontalPodAutoscaler",
  "Ingress",
  "PersistentVolumeClaim",
  "ExternalSecret",
  "SecretStore",
  "ServiceMonitor",
  "PodMonitor",
  "PrometheusRule",
  "Application",
]);

/** Files in a manifests folder that are not cluster objects (kustomize's own config). */
export const TOOLING_KINDS: ReadonlySet<string> = new Set(["Kustomization", "Component"]);
