/** The error `run` throws. Throws itself when `run` returns, so a missing error fails the test. */
export function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error, but the call returned");
}
