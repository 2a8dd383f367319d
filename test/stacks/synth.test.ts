import { execFile } from "node:child_process";
import {
  appendFileSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { environmentFiles } from "../../stacks/environment/load.js";
import { readTree } from "../../stacks/gitops/files.js";
import { renderDeployTree, type FileTree } from "../../stacks/gitops/render.js";
import { check, placeholderWarnings, synth } from "../../stacks/synth.js";

const PROJECT_DIR = join(import.meta.dirname, "..", "..");
const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), "zeroplane-synth-test-"));
/** A copy of the project's stack files, so tests can synthesize and break deploy/ freely. */
const project = join(scratch, "project");
/** One rendering of the copied project, shared by the read-only tests. */
let tree: FileTree;

beforeAll(() => {
  mkdirSync(project);
  for (const { path } of environmentFiles(PROJECT_DIR)) {
    copyFileSync(path, join(project, path.slice(PROJECT_DIR.length + 1)));
  }
  tree = renderDeployTree(project);
}, 120_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("npm run synth", () => {
  it("renders byte-identical files on every run", () => {
    const first = join(scratch, "first");
    const second = join(scratch, "second");
    synth({ projectDir: project, outDir: first });
    synth({ projectDir: project, outDir: second });
    const a = readTree(first);
    const b = readTree(second);
    expect(a.size).toBeGreaterThan(50);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [path, content] of a) expect(b.get(path), path).toBe(content);
  });

  it("wipes the output folder first", () => {
    const out = join(scratch, "wiped");
    synth({ projectDir: project, outDir: out });
    writeFileSync(join(out, "dev", "stale.yaml"), "kind: Stale\n");
    synth({ projectDir: project, outDir: out });
    expect(readTree(out).has("dev/stale.yaml")).toBe(false);
  });

  it("writes one object per file, named <kind>-<name>.yaml, and a kustomization listing them sorted", () => {
    for (const environment of ["dev", "staging", "prod", "argocd"]) {
      const files = [...tree.keys()]
        .filter((path) => path.startsWith(`${environment}/`))
        .map((path) => path.slice(environment.length + 1));
      const kustomization = parse(tree.get(`${environment}/kustomization.yaml`)!);
      const listed = files.filter((file) => file !== "kustomization.yaml");
      expect(kustomization.resources).toEqual([...listed].sort());
      for (const file of listed) {
        const object = parse(tree.get(`${environment}/${file}`)!);
        expect(file).toBe(`${object.kind}-${object.metadata.name}.yaml`.toLowerCase());
      }
    }
  });

  it("references the CURVE secret by its deterministic Secrets Manager name, with no secret material", () => {
    const external = parse(tree.get("prod/externalsecret-zeroplane-curve.yaml")!);
    expect(external.spec.data.map((d: { remoteRef: { key: string } }) => d.remoteRef.key)).toEqual([
      "zeroplane/prod/curve-server-key",
      "zeroplane/prod/curve-server-key",
    ]);
    const secrets = [...tree.entries()].filter(([, content]) => /^kind: Secret$/m.test(content));
    expect(secrets.map(([path]) => path)).toEqual([]);
  });

  it("still renders prod with placeholder digests, marked as a template in its kustomization", () => {
    const keys = "zeroplane:image.digest, zeroplane:nats.image.digest, zeroplane:nats.exporterImage.digest";
    expect(tree.get("prod/kustomization.yaml")).toMatch(
      new RegExp(`^# TEMPLATE: ${keys.replaceAll(".", "\\.")} are the all-zeros placeholder digest`, "m"),
    );
    expect(tree.get("prod/deployment-zeroplane-default.yaml")).toContain(`@sha256:${"0".repeat(64)}`);
    for (const environment of ["dev", "staging"]) {
      expect(tree.get(`${environment}/kustomization.yaml`)).not.toContain("TEMPLATE");
    }
    const warnings = placeholderWarnings(project);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^warning: Pulumi\.prod\.yaml: zeroplane:image\.digest, .*`pulumi up` refuses it/,
    );
  });

  it("writes an Argo CD Application per environment that syncs deploy/<env>", () => {
    const app = parse(tree.get("argocd/application-zeroplane-staging.yaml")!);
    expect(app.spec.source.path).toBe("deploy/staging");
    expect(app.spec.destination.namespace).toBe("zeroplane-staging");
  });
});

describe("npm run synth -- --check", () => {
  it("passes on the committed deploy/ folder", () => {
    expect(check({ projectDir: PROJECT_DIR })).toEqual({ drifted: [], missing: [], extra: [] });
  });

  it("names drifted, missing and extra files", () => {
    const out = join(project, "deploy");
    synth({ projectDir: project, outDir: out });
    expect(check({ projectDir: project, outDir: out })).toEqual({ drifted: [], missing: [], extra: [] });
    const deployment = join(out, "prod", "deployment-zeroplane-default.yaml");
    appendFileSync(deployment, "# edited by hand\n");
    unlinkSync(join(out, "dev", "service-zeroplane-default.yaml"));
    writeFileSync(join(out, "staging", "configmap-by-hand.yaml"), "kind: ConfigMap\n");
    expect(check({ projectDir: project, outDir: out })).toEqual({
      drifted: ["prod/deployment-zeroplane-default.yaml"],
      missing: ["dev/service-zeroplane-default.yaml"],
      extra: ["staging/configmap-by-hand.yaml"],
    });
  });

  it("exits non-zero from the command line and prints every drifted file", async () => {
    const out = join(scratch, "cli");
    synth({ projectDir: project, outDir: out });
    const args = [
      "--import",
      "tsx",
      join(PROJECT_DIR, "stacks", "synth.ts"),
      "--project",
      project,
      "--out",
      out,
      "--check",
    ];
    unlinkSync(join(out, "prod", "kustomization.yaml"));
    const failed = await run(process.execPath, args, { cwd: PROJECT_DIR, timeout: 60_000 }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain("missing: prod/kustomization.yaml");
    expect(failed?.stderr).toContain("warning: Pulumi.prod.yaml: zeroplane:image.digest");
    expect(failed?.stderr).toContain("Fix: run `npm run synth`");
  }, 90_000);
});
