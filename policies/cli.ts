/**
 * `npm run policy -- <dir|file>... [--env prod] [--format text|json|sarif] [--output <file>] [--registry <prefix>]`
 *
 * Checks Kubernetes manifests (for GitOps) against the rule set. Exit codes: 0 clean (warnings
 * allowed), 1 error-level violations, 2 bad input or usage.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { checkManifests, exitCodeOf } from "./cli/check.js";
import { summarize } from "./core/engine.js";
import { FORMATS, formatReport, type Format } from "./cli/format.js";

const USAGE = `usage: npm run policy -- <dir|file>... [--env <name>] [--format text|json|sarif] [--output <file>] [--registry <prefix>]...

Checks Kubernetes YAML manifests (multi-document files; folders recursively) against the Zeroplane rule set.
  --env <name>         environment; "prod" (or "production", "*-prod") turns on production rules.
                       Default: the <env> folder in a deploy/<env>/ path, else unspecified (non-production).
  --format <format>    text (default), json, or sarif (SARIF 2.1.0 for CI annotations)
  --output <file>      write the report to this file instead of stdout (npm prints its own lines on
                       stdout, so "npm run policy ... > file" would not be valid JSON or SARIF)
  --registry <prefix>  an allowed image registry prefix (repeatable); none = any registry
Exit codes: 0 no error-level violation, 1 error-level violations, 2 bad input or usage.`;

function main(argv: readonly string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        env: { type: "string" },
        format: { type: "string", default: "text" },
        output: { type: "string", short: "o" },
        registry: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length === 0) {
    process.stderr.write(
      `no manifests given. Fix: pass a file or a folder, such as deploy/prod.\n\n${USAGE}\n`,
    );
    return 2;
  }
  const format = values.format as Format;
  if (!FORMATS.includes(format)) {
    process.stderr.write(`unknown --format "${values.format}". Fix: use one of ${FORMATS.join(", ")}.\n`);
    return 2;
  }
  if (values.output !== undefined && values.output.trim() === "") {
    process.stderr.write(`--output is empty. Fix: pass a file name such as --output policy.sarif.\n`);
    return 2;
  }
  if (values.env !== undefined && values.env.trim() === "") {
    process.stderr.write(`--env is empty. Fix: pass an environment name such as --env prod.\n`);
    return 2;
  }
  const report = checkManifests({
    paths: positionals,
    ...(values.env ? { environment: values.env } : {}),
    allowedRegistries: values.registry ?? [],
  });
  const rendered = formatReport(report, format);
  if (values.output === undefined) {
    process.stdout.write(rendered);
  } else {
    try {
      writeFileSync(values.output, rendered);
    } catch (error) {
      process.stderr.write(
        `cannot write the report to ${values.output}: ${(error as Error).message}. Fix: pass a writable --output path.\n`,
      );
      return 2;
    }
  }
  if (format !== "text") {
    for (const problem of report.problems)
      process.stderr.write(`input ${problem.severity}: ${problem.message}\n`);
  }
  const code = exitCodeOf(report);
  if (values.output !== undefined) {
    const { errors, warnings } = summarize(report.violations);
    process.stderr.write(
      `wrote ${values.output} (${format}): ${errors} error(s), ${warnings} warning(s) in ${report.objects} object(s)\n`,
    );
  }
  return code;
}

process.exitCode = main(process.argv.slice(2));
