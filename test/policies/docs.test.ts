/** docs/policies.md stays in step with the rules and with the CHECKS.md floor. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { RULES } from "../../policies/rules/index.js";
import { repoRoot } from "./support.js";

const doc = readFileSync(join(repoRoot, "docs", "policies.md"), "utf8");
const checks = readFileSync(join(repoRoot, "vendor", "k8s-schemas-1.27", "CHECKS.md"), "utf8");
const checkIds = [...checks.matchAll(/^\| ([a-z0-9-]+) \|/gm)].map((m) => m[1]!).filter((id) => id !== "id");

describe("docs/policies.md", () => {
  it("lists every rule with its severity", () => {
    for (const rule of RULES) expect(doc, rule.id).toContain(`| \`${rule.id}\` | ${rule.severity}`);
  });

  it("maps every CHECKS.md row to a rule or says why it is out of scope", () => {
    expect(checkIds.length).toBeGreaterThan(60);
    const mapped = new Map(
      [...doc.matchAll(/^\| ([a-z0-9-]+) \| ([^|]+) \|/gm)].map((m) => [m[1]!, m[2]!.trim()]),
    );
    for (const id of checkIds) {
      const target = mapped.get(id);
      expect(target, id).toBeDefined();
      if (!target!.startsWith("out of scope")) {
        for (const ruleId of [...target!.matchAll(/`([a-z0-9-]+)`/g)].map((m) => m[1]!)) {
          expect(
            RULES.some((r) => r.id === ruleId && (r.checks.includes(id) || r.id === id)),
            `${id} -> ${ruleId}`,
          ).toBe(true);
        }
      }
    }
  });
});
