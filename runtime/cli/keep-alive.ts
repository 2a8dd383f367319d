/**
 * Keeps the process alive until a promise settles. Node exits with code 0 as soon as its event loop
 * is empty, even while a promise is pending: a startup that fails while waiting only on unref'd
 * handles (the runner's watchdog, for one) would otherwise end the process silently, before the
 * rejection could be reported.
 */
export async function holdEventLoop<T>(work: Promise<T>): Promise<T> {
  // Far longer than any startup; cleared as soon as `work` settles.
  const timer = setInterval(() => undefined, 60_000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}
