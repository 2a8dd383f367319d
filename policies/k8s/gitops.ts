/**
 * GitOps controllers that apply manifests on their own: Argo CD Applications with automated sync.
 * A folder they sync has no human between a commit and the cluster.
 */
import type { K8sObject } from "../core/types.js";
import { at, isRecord, list, str } from "./read.js";

/** Whether an object is an Argo CD Application that syncs by itself (`syncPolicy.automated` set). */
export function isAutoSyncedApplication(object: K8sObject): boolean {
  return (
    object.kind === "Application" &&
    (str(object.apiVersion) ?? "").startsWith("argoproj.io/") &&
    isRecord(at(object, "spec", "syncPolicy", "automated"))
  );
}

/** The repository paths an Application syncs (`spec.source.path` and every `spec.sources[].path`). */
export function applicationPaths(application: K8sObject): string[] {
  const sources = [at(application, "spec", "source"), ...list(at(application, "spec", "sources"))];
  return sources
    .map((source) => str(at(source, "path")))
    .filter((path): path is string => path !== undefined)
    .map((path) => path.replace(/^\.\//, "").replace(/\/+$/, ""));
}

/**
 * The `<env>` of every `deploy/<env>` folder an automated Application syncs, so checks of
 * `deploy/<env>/` know they guard what reaches the cluster unreviewed.
 */
export function autoSyncedEnvironments(objects: readonly K8sObject[]): Set<string> {
  const environments = new Set<string>();
  for (const application of objects.filter(isAutoSyncedApplication)) {
    for (const path of applicationPaths(application)) {
      const match = /(?:^|\/)deploy\/([^/]+)$/.exec(path);
      if (match) environments.add(match[1]!);
    }
  }
  return environments;
}
