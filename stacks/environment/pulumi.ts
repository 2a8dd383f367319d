/**
 * Reads the current stack's `zeroplane:*` config through `new pulumi.Config("zeroplane")` and
 * validates it with the same loader synthesis uses.
 */
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE, parseEnvironment, type Environment } from "./load.js";
import { ENVIRONMENT_KEYS } from "./schema.js";

/** Keys whose values are plain strings; every other key arrives from the engine as JSON text. */
const STRING_KEYS = new Set<string>(["namespace", "name"]);

/** The current stack's environment. Throws EnvironmentConfigError naming the key and the fix. */
export function loadPulumiEnvironment(): Environment {
  const config = new pulumi.Config(CONFIG_NAMESPACE);
  const values: Record<string, unknown> = {};
  for (const key of ENVIRONMENT_KEYS) {
    const raw = config.get(key);
    if (raw !== undefined) values[key] = decode(key, raw);
  }
  // Unknown keys (typos) go to the schema too, so they fail loudly instead of being ignored.
  for (const fullKey of Object.keys(pulumi.runtime.allConfig())) {
    const [namespace, key] = fullKey.split(":", 2) as [string, string | undefined];
    if (namespace !== CONFIG_NAMESPACE || key === undefined || key in values) continue;
    if ((ENVIRONMENT_KEYS as string[]).includes(key)) continue;
    values[key] = decode(key, config.get(key) ?? "");
  }
  const stack = pulumi.getStack();
  return parseEnvironment(stack, values, `stack ${stack} (Pulumi.${stack}.yaml)`);
}

function decode(key: string, raw: string): unknown {
  if (STRING_KEYS.has(key)) return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw; // not JSON: the schema reports the wrong type with the key
  }
}
