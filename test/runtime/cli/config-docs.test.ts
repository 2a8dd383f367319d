/** docs/config.md is generated from the config schema and must be regenerated when the schema changes. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderConfigDocs } from "../../../runtime/cli/config-docs.js";
import { CLIENT_ENV_VARS, ENV_VARS } from "../../../runtime/config/index.js";
import { repoRoot } from "./support/run-cli.js";

describe("docs/config.md", () => {
  const committed = readFileSync(join(repoRoot, "docs", "config.md"), "utf8");

  it("is what `npm run docs:config` writes from the current schema (run it and commit when this fails)", () => {
    expect(committed).toBe(renderConfigDocs());
  });

  it("names every key and every ZEROPLANE_* variable, server and client", () => {
    for (const [key, name] of Object.entries(ENV_VARS))
      expect(committed).toContain(`| \`${key}\` | \`${name}\` |`);
    for (const name of Object.values(CLIENT_ENV_VARS)) expect(committed).toContain(`| \`${name}\` |`);
  });
});
