/** Writes a rendered tree to disk (wiping the folder first) and compares one against disk. */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import type { FileTree } from "./render.js";

/** Replaces `dir` with exactly the files of `tree`. */
export function writeTree(dir: string, tree: FileTree): void {
  rmSync(dir, { recursive: true, force: true });
  for (const [path, content] of tree) {
    const target = join(dir, ...path.split("/"));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
}

/** Every file under `dir`, relative and `/`-separated. Empty when `dir` does not exist. */
export function readTree(dir: string): FileTree {
  const tree: FileTree = new Map();
  const walk = (current: string): void => {
    let entries;
    try {
      entries = readdirSync(current, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else tree.set(relative(dir, path).split(sep).join("/"), readFileSync(path, "utf8"));
    }
  };
  walk(dir);
  return tree;
}

/** How a committed tree differs from a fresh one. */
export interface TreeDrift {
  /** Files whose content differs. */
  readonly drifted: string[];
  /** Files a fresh synthesis writes that are not committed. */
  readonly missing: string[];
  /** Committed files a fresh synthesis no longer writes. */
  readonly extra: string[];
}

export function compareTrees(committed: FileTree, fresh: FileTree): TreeDrift {
  const drifted: string[] = [];
  const missing: string[] = [];
  for (const [path, content] of fresh) {
    const current = committed.get(path);
    if (current === undefined) missing.push(path);
    else if (current !== content) drifted.push(path);
  }
  const extra = [...committed.keys()].filter((path) => !fresh.has(path));
  return { drifted: drifted.sort(), missing: missing.sort(), extra: extra.sort() };
}

export function hasDrift(drift: TreeDrift): boolean {
  return drift.drifted.length + drift.missing.length + drift.extra.length > 0;
}
