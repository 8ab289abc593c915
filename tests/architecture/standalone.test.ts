/**
 * A fresh clone explains itself: no file of the repository points outside it (the team's research notes
 * live outside; what the project relies on is in docs/, in its own words, and cited as
 * `docs/card.md §N`). And every `docs/….md §N` citation names a section that exists.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const tracked = (): string[] => execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
const isText = (f: string) => /\.(ts|mts|mjs|js|json|md|sh|yaml|yml|txt)$|^\.ci\/|^LICENSE$|^\.gitignore$/.test(f) && f !== 'package-lock.json';

describe('the repository stands on its own', () => {
  it('no tracked file points to the shared research folder outside the repository', () => {
    const needle = ['..', 'shared'].join('/'); // spelled in two parts so that this file does not match itself
    const files = tracked().filter(isText);
    expect(files.length).toBeGreaterThan(50);
    const hits = files.filter((f) => existsSync(join(ROOT, f)) && readFileSync(join(ROOT, f), 'utf8').includes(needle));
    expect(hits).toEqual([]);
  });

  it('every docs/….md §N citation names a section of that document', () => {
    const sections = new Map<string, Set<string>>();
    const sectionsOf = (doc: string): Set<string> => {
      let s = sections.get(doc);
      if (!s) {
        const text = readFileSync(join(ROOT, doc), 'utf8');
        s = new Set([...text.matchAll(/^#{2,4} (\d+(?:\.\d+)*)[. ]/gm)].map((m) => m[1]));
        sections.set(doc, s);
      }
      return s;
    };
    const missing: string[] = [];
    for (const f of tracked().filter(isText)) {
      if (!existsSync(join(ROOT, f))) continue;
      const text = readFileSync(join(ROOT, f), 'utf8');
      for (const m of text.matchAll(/(docs\/[a-z-]+\.md) §(\d+(?:\.\d+)*)/g)) {
        if (!existsSync(join(ROOT, m[1]))) missing.push(`${f}: ${m[0]} (no such document)`);
        else if (!sectionsOf(m[1]).has(m[2])) missing.push(`${f}: ${m[0]} (no such section)`);
      }
    }
    expect(missing).toEqual([]);
  });
});
