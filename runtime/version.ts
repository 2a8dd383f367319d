/** The Zeroplane version, read once from package.json so the server, CLI and image agree. */
import { readFileSync } from "node:fs";

function readVersion(): string {
  // Works from the TypeScript sources (runtime/) and the build output (dist/runtime/).
  for (const relative of ["../package.json", "../../package.json"]) {
    try {
      const text = readFileSync(new URL(relative, import.meta.url), "utf8");
      const parsed = JSON.parse(text) as { name?: unknown; version?: unknown };
      if (parsed.name === "zeroplane" && typeof parsed.version === "string") return parsed.version;
    } catch {
      // Not at this level; try the next one.
    }
  }
  return "0.0.0-unknown";
}

export const VERSION: string = readVersion();
