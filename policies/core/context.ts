/** Building the rule context: which environment, and whether production rules apply. */
import type { RuleContext } from "./types.js";

/** Environment names that mean production. */
const PRODUCTION_NAMES = new Set(["prod", "production"]);

/** `prod`, `production` and names ending in `-prod` (such as `eu-prod`) are production. */
export function isProduction(environment: string | undefined): boolean {
  if (!environment) return false;
  const name = environment.toLowerCase();
  return PRODUCTION_NAMES.has(name) || name.endsWith("-prod");
}

export function ruleContext(options: {
  readonly environment?: string | undefined;
  readonly allowedRegistries?: readonly string[];
  readonly source: RuleContext["source"];
  readonly autoSynced?: boolean;
}): RuleContext {
  return {
    environment: options.environment,
    production: isProduction(options.environment),
    allowedRegistries: options.allowedRegistries ?? [],
    source: options.source,
    autoSynced: options.autoSynced ?? false,
  };
}
