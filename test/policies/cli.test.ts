/** `npm run policy`: the real CLI, run with tsx in a child process. */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RULES } from "../../policies/rules/index.js";
import { compliantFixture, repoRoot } from "./support.js";

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(repoRoot, "policies", "cli.ts"), ...args],
      { cwd: repoRoot, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const BAD_DEPLOYMENT = `# a workload that breaks several rules
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 1
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: nginx:latest
          securityContext:
            privileged: true
`;

let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "zeroplane-policy-cli-"));
  writeFileSync(join(scratch, "bad.yaml"), BAD_DEPLOYMENT);
  writeFileSync(join(scratch, "not-yaml.yaml"), "key: [unclosed\n  - : :\n");
  writeFileSync(join(scratch, "binary.yaml"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x02]));
  writeFileSync(
    join(scratch, "mixed.yaml"),
    "---\n# only a comment\n---\n" +
      "apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w, namespace: shop }\n---\n---\n" +
      "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: shop }\ndata: { level: info }\n",
  );
  writeFileSync(join(scratch, "list.yaml"), "- 1\n- 2\n");
  mkdirSync(join(scratch, "deploy", "prod"), { recursive: true });
  writeFileSync(
    join(scratch, "deploy", "prod", "hpa.yaml"),
    "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: { name: web, namespace: shop }\n" +
      "spec: { scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: web }, minReplicas: 1, maxReplicas: 3 }\n",
  );
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe("npm run policy", () => {
  it("exits 0 with a summary on the compliant platform in production", async () => {
    const run = await cli(compliantFixture, "--env", "prod");
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(/environment prod: 1 file\(s\), 19 object\(s\)/);
    expect(run.stdout).toMatch(/0 error\(s\), 0 warning\(s\)/);
    expect(run.code).toBe(0);
  });

  it("exits 1 on error-level violations, naming file, line, rule, object and fix", async () => {
    const run = await cli(join(scratch, "bad.yaml"));
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /bad\.yaml:17 {2}error {2}image-tag-pinned {2}Deployment shop\/web: container "web" uses the latest tag/,
    );
    expect(run.stdout).toMatch(/bad\.yaml:19 {2}error {2}pss-privileged/);
    expect(run.stdout).toMatch(/ {4}fix: /);
  });

  it("writes JSON with a summary, locations and field paths", async () => {
    const run = await cli(join(scratch, "bad.yaml"), "--format", "json");
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as {
      summary: { errors: number; objects: number };
      violations: {
        ruleId: string;
        severity: string;
        field?: string;
        location?: { file: string; line: number };
        object?: { name: string };
      }[];
    };
    expect(report.summary.objects).toBe(1);
    expect(report.summary.errors).toBe(report.violations.filter((v) => v.severity === "error").length);
    const privileged = report.violations.find((v) => v.ruleId === "pss-privileged");
    expect(privileged).toMatchObject({
      field: "spec.template.spec.containers[0].securityContext.privileged",
      object: { name: "web" },
    });
    expect(privileged?.location?.line).toBe(19);
    expect(privileged?.location?.file).toMatch(/bad\.yaml$/);
  });

  it("writes SARIF 2.1.0 with every rule and a region per result", async () => {
    const run = await cli(join(scratch, "bad.yaml"), "--format", "sarif");
    expect(run.code).toBe(1);
    const sarif = JSON.parse(run.stdout) as {
      version: string;
      runs: {
        tool: { driver: { name: string; rules: { id: string; defaultConfiguration: { level: string } }[] } };
        results: {
          ruleId: string;
          ruleIndex: number;
          level: string;
          locations: {
            physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } };
          }[];
        }[];
      }[];
    };
    expect(sarif.version).toBe("2.1.0");
    const [runResult] = sarif.runs;
    expect(runResult!.tool.driver.rules.map((r) => r.id)).toEqual(RULES.map((r) => r.id));
    const result = runResult!.results.find((r) => r.ruleId === "pss-privileged");
    expect(result?.level).toBe("error");
    expect(runResult!.tool.driver.rules[result!.ruleIndex]!.id).toBe("pss-privileged");
    expect(result?.locations[0]?.physicalLocation.region.startLine).toBe(19);
  });

  it("writes the report to --output, leaving stdout empty, and exits 2 when the file cannot be written", async () => {
    const output = join(scratch, "report.sarif");
    const run = await cli(join(scratch, "bad.yaml"), "--format", "sarif", "--output", output);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(
      /^wrote .*report\.sarif \(sarif\): \d+ error\(s\), \d+ warning\(s\) in 1 object\(s\)\n$/,
    );
    const written = JSON.parse(readFileSync(output, "utf8")) as { version: string };
    expect(written.version).toBe("2.1.0");

    const unwritable = await cli(join(scratch, "bad.yaml"), "--output", join(scratch, "bad.yaml", "report"));
    expect(unwritable.code).toBe(2);
    expect(unwritable.stderr).toMatch(
      /cannot write the report to .*bad\.yaml\/report: ENOTDIR.*Fix: pass a writable --output path/,
    );
  });

  it("exits 2 with the file and line when a file is not YAML, not text, or not an object", async () => {
    const cases = [
      ["not-yaml.yaml", /not-yaml\.yaml:\d+ is not valid YAML/],
      ["binary.yaml", /binary\.yaml is not a text file/],
      ["list.yaml", /list\.yaml:1 \(document 1\) is not a Kubernetes object \(it is a list\)/],
    ] as const;
    const runs = await Promise.all(cases.map(([file]) => cli(join(scratch, file))));
    cases.forEach(([file, message], index) => {
      expect(runs[index]!.code, file).toBe(2);
      expect(runs[index]!.stdout, file).toMatch(message);
    });
  });

  it("skips empty documents, warns about unknown kinds and checks the rest of a multi-document file", async () => {
    const run = await cli(join(scratch, "mixed.yaml"), "--format", "json");
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as {
      summary: { objects: number; inputWarnings: number };
      inputProblems: { message: string }[];
    };
    expect(report.summary.objects).toBe(1);
    expect(report.inputProblems.map((p) => p.message)).toEqual([
      expect.stringMatching(/unknown kind Widget \(example\.com\/v1\); skipped/),
    ]);
    expect(run.stderr).toMatch(/input warning: .*unknown kind Widget/);
  });

  it("walks folders recursively and reports bad files without stopping", async () => {
    const run = await cli(scratch, "--format", "json");
    expect(run.code).toBe(2);
    const report = JSON.parse(run.stdout) as { summary: { files: number; errors: number } };
    expect(report.summary.files).toBe(6);
    expect(report.summary.errors).toBeGreaterThan(0);
  });

  it("takes the environment from a deploy/<env> folder, and --env overrides it", async () => {
    const [inferred, overridden] = await Promise.all([
      cli(join(scratch, "deploy"), "--format", "json"),
      cli(join(scratch, "deploy"), "--env", "dev", "--format", "json"),
    ]);
    const report = JSON.parse(inferred.stdout) as {
      environments: { name: string; from: string; production: boolean }[];
      violations: { ruleId: string }[];
    };
    expect(report.environments).toEqual([
      expect.objectContaining({ name: "prod", from: "path", production: true }),
    ]);
    expect(report.violations.map((v) => v.ruleId)).toContain("hpa-min-2");
    expect(
      (JSON.parse(overridden.stdout) as { violations: { ruleId: string }[] }).violations.map((v) => v.ruleId),
    ).not.toContain("hpa-min-2");
  });

  it("exits 2 with usage on bad arguments", async () => {
    const argLists = [
      [],
      ["--format", "xml", compliantFixture],
      ["--bogus", compliantFixture],
      [join(scratch, "missing.yaml")],
      ["--env", "", compliantFixture],
    ];
    const runs = await Promise.all(argLists.map((args) => cli(...args)));
    argLists.forEach((args, index) => {
      expect(runs[index]!.code, args.join(" ")).toBe(2);
      expect(`${runs[index]!.stdout}${runs[index]!.stderr}`, args.join(" ")).toMatch(/Fix:|usage:/);
    });
  });
});
