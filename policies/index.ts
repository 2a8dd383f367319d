/**
 * The Zeroplane CrossGuard policy pack: `pulumi preview --policy-pack policies`.
 * It only wires the shared rule set (policies/rules) into @pulumi/policy.
 */
import { PolicyPack } from "@pulumi/policy";
import { crossguardPolicies } from "./pulumi/crossguard.js";

new PolicyPack("zeroplane", { policies: crossguardPolicies() });
