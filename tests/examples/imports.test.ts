/**
 * The example kiosks are clients: of the simulator they may know only the ApduChannel type
 * (simulator/card/channel.ts). Everything else about the card comes from harness/flows, written from
 * docs/card.md, so that a mistake in the simulator cannot be hidden by the same mistake in the client.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ALLOWED_FROM_SIMULATOR = ['simulator/card/channel.ts'];

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Project files a source imports (static and dynamic imports, type-only ones too), relative to the root. */
function projectImports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.[^']+)'/g)].map((m) => m[1]);
  return specs.map((s) => relative(ROOT, normalize(join(ROOT, dirname(file), s))));
}

it('examples/ imports nothing of the simulator but the ApduChannel type', () => {
  const files = sources('examples');
  expect(files.length).toBeGreaterThan(0);
  const bad = files.flatMap((f) =>
    projectImports(f)
      .filter((i) => i.startsWith('simulator/') && !ALLOWED_FROM_SIMULATOR.includes(i))
      .map((i) => `${f} imports ${i}`),
  );
  expect(bad).toEqual([]);
});
