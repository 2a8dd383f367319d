/**
 * The agent runner holds no secret (docs/runner.md): agents run inside its container, so anything it
 * can read, an agent can read. The runner container is found by what it runs (RUNNER_CONTAINER_ARGS),
 * not by its name.
 */
import type { Finding, ObjectRule } from "../core/types.js";
import { RUNNER_CONTAINER_ARGS } from "../../runtime/config/names.js";
import { at, list, record, str } from "../k8s/read.js";
import { containersOf, describeContainer, type ContainerRef, type PodTemplate } from "../k8s/workloads.js";
import { podRule } from "./define.js";

/** Whether a container runs the agent runner: its args (or command) start the `runner` subcommand. */
export function isRunnerContainer(container: unknown): boolean {
  const words = [...list(at(container, "command")), ...list(at(container, "args"))];
  return words.includes(RUNNER_CONTAINER_ARGS[0]);
}

/** What, if anything, makes a pod volume carry Secret material. */
function secretSourceOf(volume: unknown): string | undefined {
  const secret = record(at(volume, "secret"));
  if (secret) return `Secret "${str(secret.secretName) ?? "?"}"`;
  for (const source of list(at(volume, "projected", "sources"))) {
    const projected = record(at(source, "secret"));
    if (projected) return `Secret "${str(projected.name) ?? "?"}" (projected)`;
    if (at(source, "serviceAccountToken") !== undefined) return "a service account token (projected)";
  }
  return undefined;
}

function secretFindings(template: PodTemplate, runner: ContainerRef): Finding[] {
  const findings: Finding[] = [];
  const who = describeContainer(runner);
  const volumes = list(template.spec.volumes);
  list(runner.container.volumeMounts).forEach((mount, index) => {
    const name = str(at(mount, "name"));
    const source = secretSourceOf(volumes.find((volume) => str(at(volume, "name")) === name));
    if (source) {
      findings.push({
        message: `${who} mounts volume "${name}" holding ${source}`,
        path: [...runner.path, "volumeMounts", index],
      });
    }
  });
  list(runner.container.env).forEach((entry, index) => {
    const ref = record(at(entry, "valueFrom", "secretKeyRef"));
    if (ref) {
      findings.push({
        message: `${who} env ${str(at(entry, "name")) ?? "?"} comes from Secret "${str(ref.name) ?? "?"}"`,
        path: [...runner.path, "env", index, "valueFrom"],
      });
    }
  });
  list(runner.container.envFrom).forEach((source, index) => {
    const ref = record(at(source, "secretRef"));
    if (ref) {
      findings.push({
        message: `${who} takes its environment from Secret "${str(ref.name) ?? "?"}"`,
        path: [...runner.path, "envFrom", index],
      });
    }
  });
  return findings;
}

export const runnerRules: readonly ObjectRule[] = [
  podRule({
    id: "no-secret-in-runner",
    severity: "error",
    description:
      "No Secret reaches the agent runner container: no Secret or projected-Secret volume mount, no secretKeyRef env, no envFrom secretRef, and no service account token in its pod.",
    fix: "Mount Secrets (CURVE key, allowlist, NATS credentials) in the server container only, and set automountServiceAccountToken: false on the pod spec.",
    checks: [],
    check: (template) => {
      const runners = containersOf(template).filter((c) => isRunnerContainer(c.container));
      if (runners.length === 0) return [];
      const findings = runners.flatMap((runner) => secretFindings(template, runner));
      if (at(template.spec, "automountServiceAccountToken") !== false) {
        findings.push({
          message: `the pod does not set automountServiceAccountToken: false, so ${runners.map(describeContainer).join(", ")} get the service account token`,
          path: [...template.specPath, "automountServiceAccountToken"],
        });
      }
      return findings;
    },
  }),
];
