/**
 * The benchmarks must not depend on the tests (bench/ is run by `npm run bench`, outside vitest): no
 * module reachable from bench/*.ts through relative imports may live under tests/.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const IMPORT_RE = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

/** Every module reachable from `entries` by relative imports, with the module that first imported it. */
function reachable(entries: string[]): Map<string, string> {
  const seen = new Map<string, string>(entries.map((e) => [e, '(entry)']));
  const queue = [...entries];
  while (queue.length) {
    const file = queue.pop()!;
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT_RE)) {
      const target = resolve(dirname(file), m[1]);
      if (!existsSync(target) || seen.has(target)) continue;
      seen.set(target, file);
      if (target.endsWith('.ts')) queue.push(target);
    }
  }
  return seen;
}

describe('bench/ imports', () => {
  const benchDir = join(ROOT, 'bench');
  const entries = readdirSync(benchDir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(benchDir, f));

  it('finds the bench entry points and follows their imports into the simulator', () => {
    const all = [...reachable(entries).keys()].map((f) => relative(ROOT, f));
    expect(all).toContain('bench/run.ts');
    expect(all).toContain('simulator/card/build.ts');
  });

  it('reaches no module under tests/', () => {
    const offenders = [...reachable(entries)]
      .filter(([file]) => relative(ROOT, file).startsWith('tests/'))
      .map(([file, by]) => `${relative(ROOT, file)} (imported by ${relative(ROOT, by)})`);
    expect(offenders).toEqual([]);
  });
});
