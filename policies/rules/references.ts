/**
 * Every Secret and ConfigMap a workload uses exists or has a known creator: otherwise its pods sit in
 * ContainerCreating (or CreateContainerConfigError) with nothing in the manifests saying why.
 */
import { OPERATOR_CREATED_ANNOTATION } from "../../runtime/config/names.js";
import type { FieldPath, K8sObject, ObjectFinding, SetRule } from "../core/types.js";
import { at, list, namespaceOf, nameOf, str } from "../k8s/read.js";
import { containersOf, workloadsIn, type PodTemplate } from "../k8s/workloads.js";

type RefKind = "Secret" | "ConfigMap";

/** Objects Kubernetes itself puts in every namespace. */
const CLUSTER_CREATED = new Set(["ConfigMap/kube-root-ca.crt"]);

interface Reference {
  readonly kind: RefKind;
  readonly name: string;
  readonly path: FieldPath;
}

/** Every required (not `optional: true`) Secret and ConfigMap a pod template uses. */
function referencesOf(template: PodTemplate): Reference[] {
  const refs: Reference[] = [];
  const add = (kind: RefKind, source: unknown, nameKey: string, path: FieldPath) => {
    const name = str(at(source, nameKey));
    if (name !== undefined && at(source, "optional") !== true) refs.push({ kind, name, path });
  };
  list(template.spec.volumes).forEach((volume, index) => {
    const path = [...template.specPath, "volumes", index];
    if (at(volume, "secret") !== undefined) add("Secret", at(volume, "secret"), "secretName", path);
    if (at(volume, "configMap") !== undefined) add("ConfigMap", at(volume, "configMap"), "name", path);
    for (const source of list(at(volume, "projected", "sources"))) {
      if (at(source, "secret") !== undefined) add("Secret", at(source, "secret"), "name", path);
      if (at(source, "configMap") !== undefined) add("ConfigMap", at(source, "configMap"), "name", path);
    }
  });
  for (const c of containersOf(template)) {
    list(c.container.env).forEach((entry, index) => {
      const path = [...c.path, "env", index];
      add("Secret", at(entry, "valueFrom", "secretKeyRef"), "name", path);
      add("ConfigMap", at(entry, "valueFrom", "configMapKeyRef"), "name", path);
    });
    list(c.container.envFrom).forEach((entry, index) => {
      const path = [...c.path, "envFrom", index];
      add("Secret", at(entry, "secretRef"), "name", path);
      add("ConfigMap", at(entry, "configMapRef"), "name", path);
    });
  }
  return refs;
}

/** `Secret/a, ConfigMap/b` from the pod template's annotation. */
function documentedAsOperatorCreated(template: PodTemplate): Set<string> {
  return new Set(
    (template.annotations[OPERATOR_CREATED_ANNOTATION] ?? "")
      .split(",")
      .map((entry) => entry.trim())
      .filter(Boolean),
  );
}

/** Whether something among the objects creates or manages the referenced object. */
function hasCreator(objects: readonly K8sObject[], namespace: string, ref: Reference): boolean {
  const inNamespace = objects.filter((o) => namespaceOf(o) === namespace);
  if (inNamespace.some((o) => o.kind === ref.kind && nameOf(o) === ref.name)) return true;
  // An ExternalSecret writes its target Secret (named after itself unless spec.target.name says otherwise).
  if (
    ref.kind === "Secret" &&
    inNamespace.some(
      (o) => o.kind === "ExternalSecret" && (str(at(o, "spec", "target", "name")) ?? nameOf(o)) === ref.name,
    )
  ) {
    return true;
  }
  // A Role naming it: an in-cluster job creates and maintains it (the keygen Job's CURVE Secret).
  const resource = ref.kind === "Secret" ? "secrets" : "configmaps";
  return inNamespace.some(
    (o) =>
      o.kind === "Role" &&
      list(at(o, "rules")).some(
        (rule) =>
          list(at(rule, "resources")).includes(resource) &&
          list(at(rule, "resourceNames")).includes(ref.name),
      ),
  );
}

export const referenceRules: readonly SetRule[] = [
  {
    id: "referenced-objects-exist",
    severity: "error",
    scope: "set",
    description: `Every Secret and ConfigMap a workload mounts or reads (volumes, projected sources, secretKeyRef/configMapKeyRef, envFrom; optional ones aside) is among the objects, written by an ExternalSecret, named by a Role (an in-cluster job creates it), or listed as operator-created in the pod template's ${OPERATOR_CREATED_ANNOTATION} annotation.`,
    fix: `Create the object with the manifests, or document that the operator creates it: list it in the ${OPERATOR_CREATED_ANNOTATION} annotation (the constructs do) and in the environment's docs (docs/stacks.md, "Secrets you create").`,
    checks: [],
    check(objects) {
      const findings: ObjectFinding[] = [];
      for (const { object, template } of workloadsIn(objects)) {
        const documented = documentedAsOperatorCreated(template);
        const seen = new Set<string>();
        for (const ref of referencesOf(template)) {
          const key = `${ref.kind}/${ref.name}`;
          if (seen.has(key)) continue;
          seen.add(key);
          if (CLUSTER_CREATED.has(key) || documented.has(key)) continue;
          if (hasCreator(objects, namespaceOf(object), ref)) continue;
          findings.push({
            object,
            message: `uses ${ref.kind} "${ref.name}", which nothing here creates and the pod template does not list as operator-created: its pods would wait in ContainerCreating`,
            path: ref.path,
          });
        }
      }
      return findings;
    },
  },
];
