/** Where the benchmarks run: the repository root and the machine's load. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root (a bench module may run from a bundle under node_modules/.cache). */
export function repoRoot(): string {
  let dir = import.meta.dirname;
  for (;;) {
    try {
      if (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name === 'myna-hil') return dir;
    } catch {
      // not here
    }
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/** The load average (1/5/15 min), as /proc/loadavg gives it: the results say how busy the machine was. */
export const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ');
