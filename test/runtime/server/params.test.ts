import { describe, expect, it } from "vitest";
import { METHOD_PARAMS, ProtocolError } from "../../../runtime/protocol/index.js";
import { describeValidationError, PARAMS_PARSERS } from "../../../runtime/server/params.js";

/** What the method's zod schema alone says: the parsed value, or the BAD_REQUEST message. */
function schemaOutcome(method: "health" | "stats", params: unknown): unknown {
  const parsed = METHOD_PARAMS[method].safeParse(params === undefined || params === null ? {} : params);
  return parsed.success ? { ok: parsed.data } : { error: describeValidationError(method, parsed.error) };
}

function parserOutcome(method: "health" | "stats", params: unknown): unknown {
  try {
    return { ok: PARAMS_PARSERS[method](params) };
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe("BAD_REQUEST");
    return { error: (error as ProtocolError).message };
  }
}

describe("params parsers", () => {
  it("give parameterless methods exactly the schema's outcome, shortcut or not", () => {
    const inputs: unknown[] = [
      undefined,
      null,
      {},
      Object.create(null),
      { extra: 1 },
      { extra: undefined },
      [],
      "text",
      7,
      new Uint8Array(2),
      new Map(),
      Object.create({ inherited: 1 }),
    ];
    for (const method of ["health", "stats"] as const) {
      for (const [index, input] of inputs.entries()) {
        expect(parserOutcome(method, input), `${method}, input ${index}`).toEqual(
          schemaOutcome(method, input),
        );
      }
    }
  });

  it("validate methods with params through their schema, defaults applied", () => {
    expect(PARAMS_PARSERS.list(undefined)).toEqual({ limit: 100 });
    expect(() => PARAMS_PARSERS.get({})).toThrow(/invalid params for get: params\.agentId/);
    expect(() => PARAMS_PARSERS.spawn({ command: "true", bogus: 1 })).toThrow(/invalid params for spawn/);
  });
});
