/** Small statistics helpers for the benchmarks. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Consumed results, so that the JIT cannot drop the work being measured. */
export let sink = 0;

/**
 * Runs `fn` for `iterations` calls, `runs` times; returns operations per second of each run. `fn`
 * returns its result (a response APDU, a signature); its last byte is folded into `sink`.
 */
export function throughput(fn: () => Uint8Array, iterations: number, runs = 5): number[] {
  for (let i = 0; i < Math.min(iterations, 1000); i++) sink ^= last(fn()); // warm-up
  const out: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink ^= last(fn());
    const ns = Number(process.hrtime.bigint() - t0);
    out.push(iterations / (ns / 1e9));
  }
  return out;
}

const last = (b: Uint8Array): number => b[b.length - 1];

export const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
