/**
 * Pod Security checks for tests, as a thin adapter over the production rule set in policies/:
 * one rule set checks everything we emit.
 *
 *   podSecurityViolations(objects, "baseline")     // PSS baseline rules
 *   podSecurityViolations(objects, "restricted")   // baseline + PSS restricted rules
 *   podSecurityViolations(objects, "hardened")     // restricted + ro-root-fs + high-uid-gid
 */
import { checkObjects } from "../../policies/core/engine.js";
import { ruleContext } from "../../policies/core/context.js";
import type { K8sObject, ObjectRule } from "../../policies/core/types.js";
import { nameOf } from "../../policies/k8s/read.js";
import { podTemplateOf, type PodTemplate } from "../../policies/k8s/workloads.js";
import { OBJECT_RULES, ruleById } from "../../policies/rules/index.js";

export type PodSecurityLevel = "baseline" | "restricted" | "hardened";

const BASELINE = [
  "pss-host-namespaces",
  "pss-privileged",
  "pss-capabilities-baseline",
  "pss-hostpath",
  "pss-host-ports",
  "pss-host-process",
  "pss-apparmor",
  "pss-selinux",
  "pss-proc-mount",
  "pss-seccomp-baseline",
  "pss-sysctls",
];
const RESTRICTED = [
  "pss-volume-types",
  "pss-allow-privilege-escalation",
  "pss-run-as-non-root",
  "pss-run-as-user",
  "pss-seccomp-restricted",
  "pss-capabilities-restricted",
];
const HARDENED = ["ro-root-fs", "high-uid-gid"];

// A PSS rule added to policies/ but not listed here would silently go unchecked in tests.
const unlisted = OBJECT_RULES.filter(
  (r) => r.id.startsWith("pss-") && ![...BASELINE, ...RESTRICTED].includes(r.id),
);
if (unlisted.length > 0) {
  throw new Error(
    `test/support/pod-security.ts does not place PSS rules ${unlisted.map((r) => r.id).join(", ")} ` +
      "in a level; add each to BASELINE or RESTRICTED",
  );
}

/** The object rule with this id; ruleById throws for an unknown id, so a renamed rule fails loudly. */
function objectRule(id: string): ObjectRule {
  const rule = ruleById(id);
  if (rule.scope !== "object")
    throw new Error(`policy rule "${id}" is a ${rule.scope} rule, not an object rule`);
  return rule;
}

const LEVELS: Record<PodSecurityLevel, readonly ObjectRule[]> = {
  baseline: BASELINE.map(objectRule),
  restricted: [...BASELINE, ...RESTRICTED].map(objectRule),
  hardened: [...BASELINE, ...RESTRICTED, ...HARDENED].map(objectRule),
};

const CONTEXT = ruleContext({ source: "manifests" });

/** The pod template inside an object (none for non-workloads), with a readable location. */
export function podTemplates(object: K8sObject): (PodTemplate & { readonly where: string })[] {
  const template = podTemplateOf(object);
  return template ? [{ ...template, where: `${object.kind}/${nameOf(object) ?? "?"}` }] : [];
}

/** `Kind/name: finding (rule id)` for every pod template in `objects` that breaks a rule of `level` ([] when none). */
export function podSecurityViolations(objects: readonly K8sObject[], level: PodSecurityLevel): string[] {
  const violations = checkObjects(
    objects.map((object) => ({ object })),
    CONTEXT,
    { objectRules: LEVELS[level], setRules: [] },
  );
  return violations.map(
    (v) => `${v.object?.kind ?? "?"}/${v.object?.name ?? "?"}: ${v.message} (${v.ruleId})`,
  );
}
