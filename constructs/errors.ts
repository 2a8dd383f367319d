/**
 * The construct props error and its path helpers. Free of cdk8s imports, so the environment spec
 * (constructs/spec.ts), and the CLI's `init` that loads it, do not pull cdk8s into the runtime bundle.
 */

/** A path into the props: keys, list indexes, and agent-server groups by name. */
export type PropPath = readonly (string | number)[];

/** A bad prop. The message names the problem, the bad value and the fix. */
export class ConstructPropsError extends Error {
  /** The prop at fault, e.g. `agentServers[default].replicas` (groups by name, lists by index). */
  readonly prop: string;
  /**
   * The same as a path, e.g. `["agentServers", "default", "replicas"]`: the environment config's key
   * path too, since the config keys groups by name (the stacks print it as `zeroplane:...`).
   */
  readonly path: PropPath;

  constructor(prop: string | PropPath, problem: string, value: unknown, fix: string) {
    const path = typeof prop === "string" ? parsePropName(prop) : prop;
    const name = typeof prop === "string" ? prop : propName(prop);
    super(`${name}: ${problem}; got ${JSON.stringify(value)}. Fix: ${fix}`);
    this.name = "ConstructPropsError";
    this.prop = name;
    this.path = path;
  }
}

/** `["agentServers", "default", "resources"]` -> `agentServers[default].resources`; indexes as `[0]`. */
export function propName(path: PropPath): string {
  return path
    .map((part, index) =>
      typeof part === "number" || (index === 1 && path[0] === "agentServers")
        ? `[${part}]`
        : `${index === 0 ? "" : "."}${part}`,
    )
    .join("");
}

/** The inverse of propName; a note after the name (`agentServers[a] (object name ...)`) is dropped. */
function parsePropName(prop: string): PropPath {
  const [name = ""] = prop.split(" ");
  return [...name.matchAll(/\[([^\]]*)\]|([^.[\]]+)/g)].map(([, bracketed, key]) =>
    bracketed === undefined ? key! : /^\d+$/.test(bracketed) ? Number(bracketed) : bracketed,
  );
}

/** Throws a ConstructPropsError unless `ok`. */
export function check(ok: boolean, prop: string, problem: string, value: unknown, fix: string): void {
  if (!ok) throw new ConstructPropsError(prop, problem, value, fix);
}
