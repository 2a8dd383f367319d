/**
 * Param validation per method, prepared once: the protocol's zod schemas, with a shortcut for the
 * parameterless methods (health, stats) whose params are nearly always absent or an empty map, so the
 * most frequent requests skip the schema walk. Anything else goes through the schema, so errors and
 * limits are exactly the schema's.
 */
import type { z } from "zod";
import {
  ERROR_CODES,
  METHOD_PARAMS,
  METHODS,
  ProtocolError,
  emptyParams,
  type Method,
  type ParsedParams,
} from "../protocol/index.js";

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max)}...` : text);

/** Formats the first zod issue as "params.<field>: <problem>". */
export function describeValidationError(method: string, error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return `invalid params for ${method}`;
  // Paths and zod's own messages (unrecognized keys) can hold client text: keep both short.
  const field = ["params", ...issue.path.map((part) => clip(String(part), 64))].join(".");
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problem(s))` : "";
  return `invalid params for ${method}: ${field}: ${clip(issue.message, 512)}${more}`;
}

/** Parses one method's params, or throws BAD_REQUEST naming the first bad field. */
export type ParamsParser<M extends Method> = (params: unknown) => ParsedParams<M>;

/** True for a plain map with no keys of its own or inherited: what `{}` decodes to. */
function isEmptyMap(value: unknown): boolean {
  if (value === null || typeof value !== "object") return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return false;
  for (const _key in value) return false;
  return true;
}

function schemaParser<M extends Method>(method: M): ParamsParser<M> {
  const schema = METHOD_PARAMS[method] as unknown as z.ZodType<ParsedParams<M>>;
  return (params) => {
    const parsed = schema.safeParse(params === undefined || params === null ? {} : params);
    if (!parsed.success) {
      throw new ProtocolError(ERROR_CODES.BAD_REQUEST, describeValidationError(method, parsed.error));
    }
    return parsed.data;
  };
}

function compile<M extends Method>(method: M): ParamsParser<M> {
  const parse = schemaParser(method);
  if (METHOD_PARAMS[method] !== emptyParams) return parse;
  // Same outcome as the strict empty schema: absent or {} pass, anything else gets the schema's error.
  return (params) =>
    params === undefined || params === null || isEmptyMap(params) ? ({} as ParsedParams<M>) : parse(params);
}

/** Each method's parser, built once. */
export const PARAMS_PARSERS: { readonly [M in Method]: ParamsParser<M> } = Object.fromEntries(
  METHODS.map((method) => [method, compile(method)]),
) as { [M in Method]: ParamsParser<M> };
