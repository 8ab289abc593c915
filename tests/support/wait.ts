/**
 * Waiting on state in tests: poll a predicate until it holds or a deadline passes. This is the only
 * way tests wait; never a fixed sleep.
 */
export { waitFor, type WaitForOptions } from '../../harness/wait.ts';

/** Resolves with the arguments of the next `event` the emitter fires; rejects after the deadline. */
export function nextEvent<A extends unknown[]>(
  emitter: { once(ev: string, l: (...args: A) => void): unknown; off(ev: string, l: (...args: A) => void): unknown },
  event: string,
  opts: { timeoutMs?: number } = {},
): Promise<A> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const l = (...args: A) => {
      clearTimeout(deadline);
      resolve(args);
    };
    const deadline = setTimeout(() => {
      emitter.off(event, l);
      reject(new Error(`nextEvent: no "${event}" within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.once(event, l);
  });
}
