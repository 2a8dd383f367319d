/**
 * Client contexts, like kubeconfig: `$XDG_CONFIG_HOME/zeroplane/config.yaml` (default
 * ~/.config/zeroplane/config.yaml) holds named contexts (endpoints, the server's public key file,
 * the client's secret key file, NATS URLs) and the current one. Keys are referenced by path, never
 * inlined, and the file is written with mode 0600. Commands use the current context when no flag,
 * ZEROPLANE_* variable or client config file says otherwise (see resolveClientOptions).
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { z } from "zod";
import { CLIENT_ENV_VARS } from "../config/index.js";
import { PLACEMENT_STRATEGIES, type PlacementStrategy } from "../client/index.js";
import { writeFileWithMode } from "../security/keys.js";
import { CliError, EXIT_CODES } from "./errors.js";

const absolutePath = z.string().refine(isAbsolute, "must be an absolute path");

/** One context: where the servers are and which key files to use. No secret is stored inline. */
export const contextSchema = z
  .object({
    endpoints: z.array(z.string()).min(1),
    publishEndpoints: z.array(z.string()).optional(),
    serverPublicKeyFile: absolutePath.optional(),
    clientSecretKeyFile: absolutePath.optional(),
    clientPublicKeyFile: absolutePath.optional(),
    /** NATS URLs for `zeroplane events`. */
    natsUrls: z.array(z.string()).optional(),
    /** File with the NATS token for those URLs (`zeroplane up` writes one). */
    natsTokenFile: absolutePath.optional(),
    timeoutMs: z.number().int().positive().optional(),
    placement: z.enum(PLACEMENT_STRATEGIES as [PlacementStrategy, ...PlacementStrategy[]]).optional(),
    /** For contexts written by `zeroplane up`: the directory its processes run from. */
    upDir: absolutePath.optional(),
  })
  .strict();
export type Context = z.infer<typeof contextSchema>;

const NAME = /^[A-Za-z0-9_.-]+$/;

const contextsFileSchema = z
  .object({
    current: z.string().nullable().optional(),
    contexts: z.record(z.string().regex(NAME, "names use letters, digits, '.', '-', '_'"), contextSchema),
  })
  .strict();
export type ContextsFile = z.infer<typeof contextsFileSchema>;

/** The contexts file for this environment: `$XDG_CONFIG_HOME/zeroplane/config.yaml`. */
export function contextsPath(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(homedir(), ".config");
  return join(base, "zeroplane", "config.yaml");
}

/** Reads the contexts file; a missing file is an empty one. */
export function readContexts(path: string): ContextsFile {
  if (!existsSync(path)) return { current: null, contexts: {} };
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(path, "utf8")) ?? { contexts: {} };
  } catch (error) {
    throw new CliError(
      `the contexts file ${path} is not valid YAML: ${(error as Error).message}. Fix: correct it, or remove it and run zeroplane up again.`,
      EXIT_CODES.usage,
    );
  }
  const result = contextsFileSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new CliError(
      `the contexts file ${path} has a bad entry at "${issue.path.join(".") || "(top level)"}": ${issue.message}. Fix: correct it (keys: current, contexts.<name>.{${Object.keys(contextSchema.shape).join(", ")}}).`,
      EXIT_CODES.usage,
    );
  }
  return result.data;
}

/** Writes the contexts file (atomically, by rename), mode 0600; its folder 0700. */
export function writeContexts(path: string, file: ContextsFile): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileWithMode(path, stringifyYaml(file), 0o600);
  } catch (error) {
    throw new CliError(
      `cannot write the contexts file ${path}: ${(error as Error).message}`,
      EXIT_CODES.localFile,
    );
  }
}

/** Adds or replaces a context and makes it the current one. */
export function saveContext(path: string, name: string, context: Context): void {
  checkName(name);
  const file = readContexts(path);
  writeContexts(path, {
    current: name,
    contexts: { ...file.contexts, [name]: contextSchema.parse(context) },
  });
}

/** Removes a context; the current one becomes none when it was this one. */
export function removeContext(path: string, name: string): void {
  const file = readContexts(path);
  if (!(name in file.contexts)) return;
  const contexts = { ...file.contexts };
  delete contexts[name];
  writeContexts(path, { current: file.current === name ? null : file.current, contexts });
}

/** Makes `name` the current context. */
export function useContext(path: string, name: string): void {
  const file = readContexts(path);
  getContext(file, name, path);
  writeContexts(path, { ...file, current: name });
}

/** A context by name, or a usage error listing the ones there are. */
export function getContext(file: ContextsFile, name: string, path: string): Context {
  const context = file.contexts[name];
  if (!context) {
    const known = Object.keys(file.contexts);
    throw new CliError(
      `no context named "${name}" in ${path}. Fix: use one of ${known.length ? known.join(", ") : "(none yet: run zeroplane up)"}.`,
      EXIT_CODES.usage,
    );
  }
  return context;
}

function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new CliError(
      `context name "${name}" must use only letters, digits, '.', '-' and '_'.`,
      EXIT_CODES.usage,
    );
  }
}

/**
 * The context a command uses: the one `--context` or ZEROPLANE_CONTEXT names (which must exist), else
 * the current one, else none.
 */
export function activeContext(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { name: string; context: Context } | null {
  const path = contextsPath(env);
  const wanted = flag ?? (env[CLIENT_ENV_VARS.context] || undefined);
  if (wanted === undefined && !existsSync(path)) return null;
  const file = readContexts(path);
  const name = wanted ?? file.current ?? null;
  if (name === null) return null;
  return { name, context: getContext(file, name, path) };
}
