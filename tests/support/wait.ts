/**
 * Waiting on state in tests: poll a predicate until it holds or a deadline passes. This is the only
 * way tests wait; never a fixed sleep.
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

/** Resolves with the arguments of the next `event` the emitter fires; rejects after the deadline. */
export function nextEvent<A extends unknown[]>(
  emitter: { once(ev: string, l: (...args: A) => void): unknown; off(ev: string, l: (...args: A) => void): unknown },
  event: string,
  opts: { timeoutMs?: number } = {},
): Promise<A> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const l = (...args: A) => {
      clearTimeout(timer);
      resolve(args);
    };
    const timer = setTimeout(() => { // the deadline
      emitter.off(event, l);
      reject(new Error(`nextEvent: no "${event}" within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.once(event, l);
  });
}
