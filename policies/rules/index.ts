/** The whole rule set, in report order. Both front-ends run exactly this list. */
import type { AwsRule, ObjectRule, Rule, SetRule } from "../core/types.js";
import { accessRules } from "./access.js";
import { availabilityRules } from "./availability.js";
import { awsRules } from "./aws.js";
import { containerRules } from "./containers.js";
import { gitopsRules } from "./gitops.js";
import { loadBalancerRules } from "./load-balancers.js";
import { metadataRules } from "./metadata.js";
import { natsRules } from "./nats.js";
import { networkRules } from "./network.js";
import { podSecurityRules } from "./pod-security.js";
import { runnerRules } from "./runner.js";
import { secretRules } from "./secrets.js";

export const RULES: readonly Rule[] = [
  ...podSecurityRules,
  ...containerRules,
  ...secretRules,
  ...gitopsRules,
  ...runnerRules,
  ...availabilityRules,
  ...networkRules,
  ...loadBalancerRules,
  ...natsRules,
  ...accessRules,
  ...metadataRules,
  ...awsRules,
];

export const OBJECT_RULES: readonly ObjectRule[] = RULES.filter((r): r is ObjectRule => r.scope === "object");
export const SET_RULES: readonly SetRule[] = RULES.filter((r): r is SetRule => r.scope === "set");
export const AWS_RULES: readonly AwsRule[] = RULES.filter((r): r is AwsRule => r.scope === "aws");

/** A rule by id; throws for an unknown id so typos fail loudly. */
export function ruleById(id: string): Rule {
  const rule = RULES.find((r) => r.id === id);
  if (!rule)
    throw new Error(`unknown policy rule "${id}"; known rules: ${RULES.map((r) => r.id).join(", ")}`);
  return rule;
}
