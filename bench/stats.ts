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

/** One step of a timed loop; the steps of a loop run in turn, each timed on its own. */
export interface Step {
  /** Steps with the same label are reported together (e.g. both VERIFYs of an A → B → A cycle). */
  label: string;
  /** One call; returns its result (a response APDU), whose last byte is folded into `sink`. */
  run: () => Uint8Array;
}

/**
 * One timing sample: runs the steps in turn, round after round, until at least `minMs` have passed
 * (whole rounds only, so every label gets its share). Returns nanoseconds per call of each label.
 * Each call is timed on its own (process.hrtime, about 0.1 µs of the time of a call of some µs).
 */
export function lapSample(steps: Step[], minMs: number): Map<string, number> {
  const ns = new Map<string, number>();
  const calls = new Map<string, number>();
  const minNs = minMs * 1e6;
  let elapsed = 0;
  while (elapsed < minNs) {
    for (const s of steps) {
      const t0 = process.hrtime.bigint();
      const r = s.run();
      const dt = Number(process.hrtime.bigint() - t0);
      sink ^= last(r);
      elapsed += dt;
      ns.set(s.label, (ns.get(s.label) ?? 0) + dt);
      calls.set(s.label, (calls.get(s.label) ?? 0) + 1);
    }
  }
  return new Map([...ns].map(([label, t]) => [label, t / calls.get(label)!]));
}

/** Median and spread of per-call times, as `median 12.3 µs (min 11.9, max 13.0; 5 samples of ≥ 100 ms)`. */
export function describeNs(samples: number[], minMs: number): string {
  const unit = median(samples) >= 1e6 ? { d: 1e6, u: 'ms', p: 2 } : { d: 1e3, u: 'µs', p: 1 };
  const f = (ns: number) => fmt(ns / unit.d, unit.p);
  return `median ${f(median(samples))} ${unit.u} (min ${f(Math.min(...samples))}, max ${f(Math.max(...samples))}; ${samples.length} samples of ≥ ${minMs} ms)`;
}

/**
 * Runs each sampler in turn, `samples` rounds after one uncounted warm-up round, so that load from
 * other processes falls on all alike. Returns the per-call times of each label, one per round.
 */
export function interleaved(samplers: Array<() => Map<string, number>>, samples: number): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const s of samplers) s();
  for (let i = 0; i < samples; i++) {
    for (const s of samplers) for (const [label, ns] of s()) out.set(label, [...(out.get(label) ?? []), ns]);
  }
  return out;
}
