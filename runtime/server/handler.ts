/**
 * The request dispatcher shared by the ZeroMQ socket and NATS command intake: checks the method,
 * validates params (params.ts), runs the method (methods.ts), and keeps the books: requests in
 * flight, the request deadline and the request metrics. Methods that answer synchronously (health,
 * get, list…) are answered without a promise or a timer.
 */
import type { MethodTally } from "../observability/request-metrics.js";
import {
  ERROR_CODES,
  METHOD_PARAMS,
  METHODS,
  ProtocolError,
  type Method,
  type RequestHandler,
  toProtocolError,
} from "../protocol/index.js";
import { withDeadline } from "./deadline.js";
import { createMethods, type MethodDeps } from "./methods.js";
import { PARAMS_PARSERS } from "./params.js";

export type { HandlerState } from "./methods.js";
export { describeValidationError } from "./params.js";

export interface HandlerDeps extends MethodDeps {
  /**
   * A request still running after this long is answered with TIMEOUT (retryable); the operation may
   * still complete. server.requestTimeoutMs.
   */
  readonly requestTimeoutMs: number;
}

/**
 * One request, dispatched: returns the result, or a promise of it for methods that wait; throws (or
 * rejects with) a ProtocolError.
 */
export type Dispatch = (method: unknown, params: unknown) => unknown;

export interface ServerRequestHandler {
  /** The dispatcher as a promise-returning RequestHandler (NATS command intake). */
  readonly handle: RequestHandler;
  /** The same dispatcher without a promise for synchronous answers (the ROUTER loop). */
  readonly invoke: Dispatch;
  /** Resolves when no request is in flight. */
  idle(): Promise<void>;
  readonly inFlight: number;
}

function isMethod(method: unknown): method is Method {
  return typeof method === "string" && Object.prototype.hasOwnProperty.call(METHOD_PARAMS, method);
}

function unknownMethod(method: unknown): ProtocolError {
  const shown = typeof method === "string" ? `"${method.slice(0, 64)}"` : typeof method;
  return new ProtocolError(
    ERROR_CODES.UNKNOWN_METHOD,
    `unknown method ${shown}. Fix: use one of ${Object.keys(METHOD_PARAMS).join(", ")}.`,
  );
}

export function createRequestHandler(deps: HandlerDeps): ServerRequestHandler {
  const methods = createMethods(deps);
  // Looked up once: recording a request then costs no label lookups.
  const tallies = new Map<string, MethodTally>(
    METHODS.map((method) => [method, deps.metrics.requestTally(method)]),
  );
  const unknownTally = deps.metrics.requestTally("unknown");
  let inFlight = 0;
  let idleWaiters: Array<() => void> = [];

  const finish = () => {
    inFlight--;
    if (inFlight === 0 && idleWaiters.length) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const wake of waiters) wake();
    }
  };

  const timeoutError = (method: string) => () =>
    new ProtocolError(
      ERROR_CODES.TIMEOUT,
      `${method} did not finish within ${deps.requestTimeoutMs} ms (server.requestTimeoutMs) and may still complete. Retry; a spawn retried with the same idempotencyKey returns its agent.`,
    );

  /** Counts a failed request and returns the error to send. */
  const failed = (tally: MethodTally, startedAt: number, error: unknown): ProtocolError => {
    const wire = toProtocolError(error);
    tally.record(wire.code, (performance.now() - startedAt) / 1000);
    return wire === error ? wire : Object.assign(wire, { cause: error });
  };

  const invoke: Dispatch = (method, params) => {
    const startedAt = performance.now();
    if (!isMethod(method)) throw failed(unknownTally, startedAt, unknownMethod(method));
    const tally = tallies.get(method)!;
    inFlight++;
    let result: unknown;
    try {
      const run = methods[method] as (parsed: unknown) => unknown;
      result = run(PARAMS_PARSERS[method](params));
    } catch (error) {
      finish();
      throw failed(tally, startedAt, error);
    }
    if (!(result instanceof Promise)) {
      // Answered synchronously: no deadline timer, no promise.
      finish();
      tally.record("ok", (performance.now() - startedAt) / 1000);
      return result;
    }
    // In flight until the operation itself ends, also when its reply went out as TIMEOUT.
    result.then(finish, finish);
    return withDeadline(result, deps.requestTimeoutMs, timeoutError(method)).then(
      (value) => {
        tally.record("ok", (performance.now() - startedAt) / 1000);
        return value;
      },
      (error: unknown) => {
        throw failed(tally, startedAt, error);
      },
    );
  };

  const handle = ((method: unknown, params: unknown) => {
    try {
      return Promise.resolve(invoke(method, params));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }) as RequestHandler;

  return {
    handle,
    invoke,
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve))),
    get inFlight() {
      return inFlight;
    },
  };
}
