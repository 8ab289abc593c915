/**
 * Waiting on state: poll a predicate until it holds or a deadline passes, never a fixed sleep. Used by
 * the harness and the benchmarks (the PC/SC lock) and, through tests/support/wait.ts, by the tests.
 */
export interface WaitForOptions {
  /** Deadline. Default 5000 ms. */
  timeoutMs?: number;
  /** Poll period. Default 10 ms. */
  intervalMs?: number;
  /** Named in the timeout error. */
  what?: string;
}

/** Resolves with the predicate's first truthy value; rejects after the deadline. */
export async function waitFor<T>(predicate: () => T | Promise<T>, opts: WaitForOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const intervalMs = opts.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await predicate();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError ? ` (last error: ${(lastError as Error).message ?? lastError})` : '';
      throw new Error(`waitFor: timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs)); // poll interval inside the deadline loop
  }
}
