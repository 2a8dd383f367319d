/**
 * Container hardening beyond PSS, resources, probes and images (CHECKS.md sections C, D, E, F).
 */
import type { Finding, ObjectRule } from "../core/types.js";
import { at, hasValue, list, num, record, str } from "../k8s/read.js";
import { hasDigest, parseImage } from "../k8s/images.js";
import {
  containersOf,
  describeContainer,
  isLongRunning,
  type ContainerRef,
  type PodTemplate,
} from "../k8s/workloads.js";
import { containersNotSetting, podRule } from "./define.js";

const HIGH_ID = 10000;

/** A resources rule: every container and init container sets `resources.<section>.<resource>`. */
/** The containers whose image is not pinned by digest, with the image reference ("" when unset). */
function undigestedImages(template: PodTemplate): { c: ContainerRef; image: string }[] {
  return containersOf(template)
    .map((c) => ({ c, image: str(c.container.image) ?? "" }))
    .filter(({ image }) => !hasDigest(parseImage(image)));
}

function resourceRule(
  id: string,
  severity: "error" | "warning",
  sections: readonly ("requests" | "limits")[],
  resources: readonly string[],
  checks: readonly string[],
): ObjectRule {
  const wanted = sections.flatMap((s) => resources.map((r) => `${s}.${r}`));
  return podRule({
    id,
    severity,
    description: `Every container and init container sets resources ${wanted.join(", ")}.`,
    fix: `Set ${wanted.map((w) => `resources.${w}`).join(" and ")} on each container.`,
    checks,
    check: (t) =>
      containersOf(t, ["containers", "initContainers"]).flatMap((c) => {
        const missing = wanted.filter((w) => {
          const [section = "", resource = ""] = w.split(".");
          return !hasValue(at(c.container, "resources", section), resource);
        });
        return missing.length
          ? [
              {
                message: `${describeContainer(c)} has no resources ${missing.join(", ")}`,
                path: [...c.path, "resources"],
              },
            ]
          : [];
      }),
  });
}

/** A probe rule for long-running workloads (Jobs and CronJobs run to completion and are exempt). */
function probeRule(
  id: "probes-readiness" | "probes-liveness",
  field: "readinessProbe" | "livenessProbe",
): ObjectRule {
  return podRule({
    id,
    severity: "error",
    description: `Every container of a long-running workload has a ${field} (Jobs and CronJobs are exempt).`,
    fix:
      field === "readinessProbe"
        ? "Add a readinessProbe (for the agent server: HTTP GET /readyz on the metrics port)."
        : "Add a livenessProbe (for the agent server: HTTP GET /healthz on the metrics port).",
    checks: [id],
    check: (t, object) =>
      isLongRunning(object)
        ? containersOf(t, ["containers"])
            .filter((c) => !hasValue(c.container, field))
            .map((c) => ({ message: `${describeContainer(c)} has no ${field}`, path: [...c.path, field] }))
        : [],
  });
}

export const containerRules: readonly ObjectRule[] = [
  podRule({
    id: "ro-root-fs",
    severity: "error",
    description: "Every container runs with a read-only root filesystem.",
    fix: "Set securityContext.readOnlyRootFilesystem: true; mount an emptyDir where the process must write.",
    checks: ["ro-root-fs"],
    check: (t) => containersNotSetting(t, "readOnlyRootFilesystem", true),
  }),
  podRule({
    id: "high-uid-gid",
    severity: "warning",
    description: `Containers run with runAsUser and runAsGroup above ${HIGH_ID} (no overlap with host users).`,
    fix: "Set spec.securityContext.runAsUser and runAsGroup to values above 10000, such as 10001.",
    checks: ["high-uid-gid"],
    check: (t) =>
      containersOf(t).flatMap((c) => {
        const findings: Finding[] = [];
        for (const field of ["runAsUser", "runAsGroup"] as const) {
          const id =
            num(at(c.container, "securityContext", field)) ?? num(at(t.spec, "securityContext", field));
          if (id === undefined || id <= HIGH_ID) {
            findings.push({
              message: `${describeContainer(c)} ${id === undefined ? `has no ${field}` : `runs with ${field} ${id}`}`,
              path: [...c.path, "securityContext", field],
            });
          }
        }
        return findings;
      }),
  }),
  podRule({
    id: "env-no-duplicate-keys",
    severity: "error",
    description: "No container defines the same environment variable twice.",
    fix: "Remove the duplicate env entry; keep one definition per name.",
    checks: ["env-no-duplicate-keys"],
    check: (t) =>
      containersOf(t).flatMap((c) => {
        const seen = new Set<string>();
        const findings: Finding[] = [];
        list(c.container.env).forEach((entry, index) => {
          const name = str(at(entry, "name"));
          if (name === undefined) return;
          if (seen.has(name))
            findings.push({
              message: `${describeContainer(c)} defines ${name} twice`,
              path: [...c.path, "env", index],
            });
          seen.add(name);
        });
        return findings;
      }),
  }),
  podRule({
    id: "container-ports-valid",
    severity: "error",
    description:
      "Container ports set containerPort; port names are unique in the pod and at most 15 characters.",
    fix: "Give each port a containerPort and a unique name of 15 characters or fewer.",
    checks: ["container-ports-valid"],
    check: (t) => {
      const names = new Set<string>();
      const findings: Finding[] = [];
      for (const c of containersOf(t)) {
        list(c.container.ports).forEach((port, index) => {
          const path = [...c.path, "ports", index];
          if (num(at(port, "containerPort")) === undefined)
            findings.push({ message: `${describeContainer(c)} has a port without containerPort`, path });
          const name = str(at(port, "name"));
          if (name === undefined) return;
          if (name.length > 15)
            findings.push({
              message: `${describeContainer(c)} port name "${name}" is longer than 15 characters`,
              path,
            });
          if (names.has(name))
            findings.push({ message: `port name "${name}" is used twice in the pod`, path });
          names.add(name);
        });
      }
      return findings;
    },
  }),
  podRule({
    id: "image-tag-pinned",
    severity: "error",
    description: "Every image names an explicit tag other than latest, or a digest.",
    fix: "Pin the image to a release tag, or better to a digest (image@sha256:...).",
    checks: ["image-tag-pinned"],
    check: (t) =>
      containersOf(t).flatMap((c) => {
        const image = str(c.container.image);
        if (image === undefined || image === "")
          return [{ message: `${describeContainer(c)} has no image`, path: [...c.path, "image"] }];
        const ref = parseImage(image);
        if (ref.tag === "latest")
          return [
            { message: `${describeContainer(c)} uses the latest tag (${image})`, path: [...c.path, "image"] },
          ];
        if (ref.tag === undefined && !hasDigest(ref))
          return [
            {
              message: `${describeContainer(c)} image ${image} has no tag or digest`,
              path: [...c.path, "image"],
            },
          ];
        return [];
      }),
  }),
  podRule({
    id: "image-digest-prod",
    severity: "error",
    productionOnly: true,
    description:
      "In production every image is pinned by digest (@sha256:...), so what runs is exactly what was scanned.",
    fix: "Reference the image as repository@sha256:<digest> (tags are mutable; ECR immutable tags still allow delete and re-push).",
    checks: ["image-tag-pinned"],
    check: (t) =>
      undigestedImages(t).map(({ c, image }) => ({
        message: `${describeContainer(c)} image "${image}" is not pinned by digest`,
        path: [...c.path, "image"],
      })),
  }),
  podRule({
    id: "image-pull-policy-always",
    severity: "warning",
    description:
      "Images are pulled with imagePullPolicy Always unless pinned by digest (a digest cannot change).",
    fix: "Set imagePullPolicy: Always, or pin the image by digest.",
    checks: ["image-pull-policy-always"],
    check: (t) =>
      undigestedImages(t).flatMap(({ c }) => {
        const policy = str(c.container.imagePullPolicy);
        return policy === "Always"
          ? []
          : [
              {
                message: `${describeContainer(c)} pulls with ${policy ?? "the default policy"} and is not pinned by digest`,
                path: [...c.path, "imagePullPolicy"],
              },
            ];
      }),
  }),
  podRule({
    id: "image-registry-allowlist",
    severity: "warning",
    description:
      "Images come only from the allowed registries (when a list is configured: --registry on the CLI, allowedRegistries in the pack config).",
    fix: "Mirror the image into an allowed registry (your ECR) and reference it from there.",
    checks: ["image-registry-allowlist"],
    check: (t, _object, context) =>
      context.allowedRegistries.length === 0
        ? []
        : containersOf(t).flatMap((c) => {
            const image = str(c.container.image) ?? "";
            return context.allowedRegistries.some((prefix) => image.startsWith(prefix))
              ? []
              : [
                  {
                    message: `${describeContainer(c)} image "${image}" is not from an allowed registry`,
                    path: [...c.path, "image"],
                  },
                ];
          }),
  }),
  resourceRule("resources-requests", "error", ["requests"], ["cpu", "memory"], ["resources-requests"]),
  resourceRule("resources-memory-limit", "error", ["limits"], ["memory"], ["resources-memory-limit"]),
  resourceRule("resources-cpu-limit", "warning", ["limits"], ["cpu"], ["resources-cpu-limit"]),
  resourceRule(
    "ephemeral-storage",
    "warning",
    ["requests", "limits"],
    ["ephemeral-storage"],
    ["ephemeral-storage"],
  ),
  probeRule("probes-readiness", "readinessProbe"),
  probeRule("probes-liveness", "livenessProbe"),
  podRule({
    id: "probes-not-identical",
    severity: "warning",
    description:
      "A container's liveness and readiness probes differ (an identical pair restarts pods that are merely busy).",
    fix: "Point liveness at a cheap 'process alive' check (/healthz) and readiness at 'can serve' (/readyz).",
    checks: ["probes-not-identical"],
    check: (t, object) =>
      isLongRunning(object)
        ? containersOf(t, ["containers"]).flatMap((c) => {
            const liveness = record(c.container.livenessProbe);
            const readiness = record(c.container.readinessProbe);
            return liveness && readiness && JSON.stringify(liveness) === JSON.stringify(readiness)
              ? [
                  {
                    message: `${describeContainer(c)} has identical liveness and readiness probes`,
                    path: [...c.path, "livenessProbe"],
                  },
                ]
              : [];
          })
        : [],
  }),
];
