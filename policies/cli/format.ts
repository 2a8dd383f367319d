/** Report renderers: human text, JSON, and SARIF 2.1.0 for CI code-scanning annotations. */
import { pathText, summarize } from "../core/engine.js";
import { RULES } from "../rules/index.js";
import type { CheckReport, ReportedViolation } from "./check.js";

export const FORMATS = ["text", "json", "sarif"] as const;
export type Format = (typeof FORMATS)[number];

const TOOL_NAME = "zeroplane-policy";

function subject(v: ReportedViolation): string {
  if (v.object)
    return `${v.object.kind} ${v.object.namespace ? `${v.object.namespace}/` : ""}${v.object.name ?? "(unnamed)"}`;
  if (v.resource) return `${v.resource.type} ${v.resource.name}`;
  return "";
}

export function formatText(report: CheckReport): string {
  const out: string[] = [];
  for (const env of report.environments) {
    const name = env.name ?? "unspecified (non-production rules only; pass --env prod for production rules)";
    out.push(
      `environment ${name}${env.from === "path" ? " (from the deploy/<env> folder)" : ""}: ${env.files} file(s), ${env.objects} object(s)`,
    );
  }
  for (const p of report.problems)
    out.push(`${p.severity === "error" ? "input error" : "input warning"}: ${p.message}`);
  for (const v of report.violations) {
    const where = v.location ? `${v.location.file}:${v.location.line}` : "(no file)";
    const field = pathText(v);
    out.push(
      `${where}  ${v.severity}  ${v.ruleId}  ${subject(v)}${v.environment ? ` [${v.environment}]` : ""}: ${v.message}${field ? ` (${field})` : ""}`,
    );
    out.push(`    fix: ${v.fix}`);
  }
  const { errors, warnings } = summarize(report.violations);
  const inputErrors = report.problems.filter((p) => p.severity === "error").length;
  out.push(
    `${report.objects} object(s) in ${report.files} file(s): ${errors} error(s), ${warnings} warning(s)${inputErrors ? `, ${inputErrors} input error(s)` : ""}`,
  );
  return `${out.join("\n")}\n`;
}

export function formatJson(report: CheckReport): string {
  const { errors, warnings } = summarize(report.violations);
  return `${JSON.stringify(
    {
      tool: TOOL_NAME,
      summary: {
        files: report.files,
        objects: report.objects,
        errors,
        warnings,
        inputErrors: report.problems.filter((p) => p.severity === "error").length,
        inputWarnings: report.problems.filter((p) => p.severity === "warning").length,
      },
      environments: report.environments,
      violations: report.violations.map((v) => ({ ...v, ...(v.path ? { field: pathText(v) } : {}) })),
      inputProblems: report.problems,
    },
    null,
    2,
  )}\n`;
}

export function formatSarif(report: CheckReport): string {
  const ruleIndex = new Map(RULES.map((rule, index) => [rule.id, index]));
  const sarif = {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: TOOL_NAME,
            rules: RULES.map((rule) => ({
              id: rule.id,
              shortDescription: { text: rule.description },
              fullDescription: { text: rule.description },
              help: { text: rule.fix },
              defaultConfiguration: { level: rule.severity === "error" ? "error" : "warning" },
              properties: {
                scope: rule.scope,
                checks: rule.checks,
                productionOnly: rule.productionOnly ?? false,
              },
            })),
          },
        },
        invocations: [
          {
            executionSuccessful: !report.problems.some((p) => p.severity === "error"),
            toolExecutionNotifications: report.problems.map((p) => ({
              level: p.severity,
              message: { text: p.message },
              locations: [
                {
                  physicalLocation: {
                    artifactLocation: { uri: p.file },
                    ...(p.line ? { region: { startLine: p.line } } : {}),
                  },
                },
              ],
            })),
          },
        ],
        results: report.violations.map((v) => ({
          ruleId: v.ruleId,
          ...(ruleIndex.has(v.ruleId) ? { ruleIndex: ruleIndex.get(v.ruleId) } : {}),
          level: v.severity === "error" ? "error" : "warning",
          message: { text: `${subject(v)}: ${v.message}. Fix: ${v.fix}` },
          ...(v.location
            ? {
                locations: [
                  {
                    physicalLocation: {
                      artifactLocation: { uri: v.location.file },
                      region: { startLine: v.location.line },
                    },
                  },
                ],
              }
            : {}),
          properties: { environment: v.environment ?? null, field: pathText(v) || null },
        })),
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}

export function formatReport(report: CheckReport, format: Format): string {
  return format === "json"
    ? formatJson(report)
    : format === "sarif"
      ? formatSarif(report)
      : formatText(report);
}
