/** The "am I the script node was started with?" check shared by the runtime's entry modules. */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * True when the module at `moduleUrl` (the caller's own `import.meta.url`) is the entry script.
 * The caller passes its URL, so a bundle that keeps each entry module in its own chunk answers as
 * the sources do; `expectedPath` must match that module's file, because bundled into the CLI the
 * URL can be the bundle's own file, which is the entry script but not this module.
 */
export function isEntryModule(moduleUrl: string, expectedPath: RegExp): boolean {
  const entry = process.argv[1];
  const self = fileURLToPath(moduleUrl);
  if (!entry || !expectedPath.test(self)) return false;
  try {
    return realpathSync(entry) === realpathSync(self);
  } catch {
    return false;
  }
}
