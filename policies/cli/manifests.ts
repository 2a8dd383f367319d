/**
 * Reads Kubernetes manifests from files and folders: multi-document YAML, `kind: List`, empty
 * documents. Anything that is not a manifest becomes an input problem with file and line, never an
 * exception. Objects remember where they came from so violations can point at the field's line.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, relative, resolve, sep } from "node:path";
import { LineCounter, parseAllDocuments, type Document } from "yaml";
import type { SourcedObject } from "../core/engine.js";
import type { FieldPath, K8sObject, SourceLocation } from "../core/types.js";
import { KNOWN_KINDS, TOOLING_KINDS } from "../k8s/kinds.js";
import { isRecord, list } from "../k8s/read.js";

export interface InputProblem {
  /** `error` makes the run exit 2 (bad input); `warning` is reported and skipped (unknown kinds). */
  readonly severity: "error" | "warning";
  readonly file: string;
  readonly line?: number;
  readonly message: string;
}

export interface LoadedFile {
  readonly file: string;
  readonly objects: readonly SourcedObject[];
}

export interface LoadResult {
  readonly files: readonly LoadedFile[];
  readonly problems: readonly InputProblem[];
}

const MANIFEST_EXTENSIONS = /\.ya?ml$/i;
const SKIPPED_DIRECTORIES = new Set(["node_modules", ".git"]);
const KUSTOMIZE_FILE = /^kustomization\.ya?ml$|^Kustomization$/;

/** How a file is named in reports: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const relativePath = relative(process.cwd(), file);
  return relativePath && !relativePath.startsWith("..") ? relativePath.split(sep).join("/") : file;
}

/** Every manifest file under `path` (itself, when a file), sorted for stable output. */
function manifestFiles(path: string, problems: InputProblem[]): string[] {
  let stats;
  try {
    stats = statSync(path);
  } catch (error) {
    problems.push({
      severity: "error",
      file: path,
      message: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}. Fix: pass an existing YAML file or a folder of YAML files.`,
    });
    return [];
  }
  if (stats.isFile()) return [resolve(path)];
  const found: string[] = [];
  const walk = (directory: string): void => {
    for (const entry of readdirSync(directory, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    )) {
      if (entry.isDirectory() && !entry.name.startsWith(".") && !SKIPPED_DIRECTORIES.has(entry.name))
        walk(join(directory, entry.name));
      else if (entry.isFile() && MANIFEST_EXTENSIONS.test(entry.name))
        found.push(resolve(directory, entry.name));
    }
  };
  walk(path);
  if (found.length === 0) {
    problems.push({
      severity: "error",
      file: path,
      message: `no .yaml or .yml files under ${path}. Fix: point at the synthesized manifests, such as deploy/prod.`,
    });
  }
  return found;
}

function locator(
  file: string,
  index: number,
  document: Document,
  lines: LineCounter,
  prefix: FieldPath,
): (path: FieldPath | undefined) => SourceLocation {
  return (path) => {
    const full = [...prefix, ...(path ?? [])];
    for (let length = full.length; length >= 0; length -= 1) {
      const node = document.getIn(full.slice(0, length), true) as
        { range?: [number, number, number] } | undefined;
      if (node?.range) return { file, document: index + 1, line: lines.linePos(node.range[0]).line };
    }
    return { file, document: index + 1, line: lines.linePos(document.range?.[0] ?? 0).line };
  };
}

function loadFile(file: string, problems: InputProblem[]): LoadedFile {
  const shown = displayPath(file);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    problems.push({
      severity: "error",
      file: shown,
      message: `cannot read ${shown}: ${(error as Error).message}`,
    });
    return { file: shown, objects: [] };
  }
  return parseManifestText(shown, text, problems);
}

/** Parses one file's text; `file` is the name used in reports (and for deploy/<env> grouping). */
export function parseManifestText(file: string, text: string, problems: InputProblem[]): LoadedFile {
  const shown = file;
  const objects: SourcedObject[] = [];
  if (text.includes("\u0000")) {
    problems.push({
      severity: "error",
      file: shown,
      message: `${shown} is not a text file. Fix: pass YAML manifests only.`,
    });
    return { file: shown, objects };
  }
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: false });
  const all = Array.isArray(documents) ? documents : [];
  all.forEach((document, index) => {
    const startLine = lines.linePos(document.range?.[0] ?? 0).line;
    const where = `${shown}:${startLine} (document ${index + 1})`;
    const yamlError = document.errors[0];
    if (yamlError) {
      const line = lines.linePos(yamlError.pos[0]).line;
      problems.push({
        severity: "error",
        file: shown,
        line,
        message: `${shown}:${line} is not valid YAML: ${yamlError.message.split("\n")[0]}`,
      });
      return;
    }
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: 100 });
    } catch (error) {
      problems.push({
        severity: "error",
        file: shown,
        line: startLine,
        message: `${where} cannot be read: ${(error as Error).message}`,
      });
      return;
    }
    if (value === null || value === undefined) return;
    const add = (candidate: unknown, prefix: FieldPath, label: string): void => {
      if (!isRecord(candidate)) {
        problems.push({
          severity: "error",
          file: shown,
          line: startLine,
          message: `${label} is not a Kubernetes object (it is ${Array.isArray(candidate) ? "a list" : `a ${typeof candidate}`}). Fix: each YAML document must be one object with apiVersion and kind.`,
        });
        return;
      }
      const { apiVersion, kind } = candidate;
      if (typeof kind === "string" && TOOLING_KINDS.has(kind)) return;
      if (typeof apiVersion !== "string" || typeof kind !== "string" || !apiVersion || !kind) {
        if (KUSTOMIZE_FILE.test(basename(file))) return;
        problems.push({
          severity: "error",
          file: shown,
          line: startLine,
          message: `${label} has no ${typeof apiVersion !== "string" || !apiVersion ? "apiVersion" : "kind"}. Fix: every manifest needs apiVersion and kind.`,
        });
        return;
      }
      if (kind === "List" || (kind.endsWith("List") && Array.isArray(candidate.items))) {
        list(candidate.items).forEach((item, itemIndex) =>
          add(item, [...prefix, "items", itemIndex], `${label} item ${itemIndex}`),
        );
        return;
      }
      if (!KNOWN_KINDS.has(kind)) {
        problems.push({
          severity: "warning",
          file: shown,
          line: startLine,
          message: `${label}: unknown kind ${kind} (${apiVersion}); skipped, no rule checks it.`,
        });
        return;
      }
      objects.push({
        object: candidate as K8sObject,
        locate: locator(shown, index, document, lines, prefix),
      });
    };
    add(value, [], where);
  });
  return { file: shown, objects };
}

/** Loads every manifest under `paths` (files or folders, recursively). */
export function loadManifests(paths: readonly string[]): LoadResult {
  const problems: InputProblem[] = [];
  const files = paths
    .flatMap((path) => manifestFiles(path, problems))
    .map((file) => loadFile(file, problems));
  return { files, problems };
}
