/**
 * The arrows of the house run one way (CONTRIBUTING.md, "Layers"):
 *
 *   simulator/apdu ← simulator/pin ← simulator/applets ← simulator/card ← simulator/transport
 *   simulator (all of it) ← harness ← bench, tests
 *
 * plus a few rules of their own: the card core does no file I/O (harness/load-card.ts builds a card
 * from files; simulator/fs holds the atomic writes both the profile and the state modules use), the profile module does not reach into the state module, the PC/SC
 * client does not depend on the client flows, and nothing but tests imports tests/.
 * This test reads every import of every source file and fails, naming the file and the import, when
 * an arrow points the wrong way.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Rule {
  /** Files the rule applies to (a path prefix relative to the root). */
  from: string;
  /** Imports it may not have: project path prefixes, or package names such as `node:fs`. */
  not: string[];
  why: string;
}

const SIM_ABOVE_APDU = [
  'simulator/pin/',
  'simulator/applets/',
  'simulator/card/',
  'simulator/transport/',
  'simulator/profile/',
  'simulator/state/',
  'simulator/issuer/',
];
const OUTSIDE_SIMULATOR = ['harness/', 'bench/', 'tests/', 'scripts/', 'examples/'];

const RULES: Rule[] = [
  { from: 'simulator/apdu/', not: [...SIM_ABOVE_APDU, ...OUTSIDE_SIMULATOR], why: 'the APDU codec is the bottom layer' },
  {
    from: 'simulator/pin/',
    not: ['simulator/applets/', 'simulator/card/', 'simulator/transport/', 'simulator/profile/', 'simulator/state/', 'simulator/issuer/', ...OUTSIDE_SIMULATOR],
    why: 'PINs and their rules sit right above the codec',
  },
  {
    from: 'simulator/applets/',
    not: ['simulator/card/', 'simulator/transport/', 'simulator/issuer/', ...OUTSIDE_SIMULATOR],
    why: 'applets are tables of files and keys below the card',
  },
  {
    from: 'simulator/card/',
    not: ['simulator/transport/', 'simulator/issuer/', 'simulator/fs/', 'simulator/profile/io.ts', 'node:fs', 'node:fs/promises', ...OUTSIDE_SIMULATOR],
    why: 'the card is bytes in, bytes out: no transport, no file I/O (harness/load-card.ts reads the files)',
  },
  { from: 'simulator/fs/', not: [...SIM_ABOVE_APDU, 'simulator/apdu/', ...OUTSIDE_SIMULATOR], why: 'the file-system helpers are a bottom layer of their own' },
  {
    from: 'simulator/profile/',
    not: ['simulator/state/', 'simulator/card/', 'simulator/transport/', 'simulator/issuer/', ...OUTSIDE_SIMULATOR],
    why: 'profiles say what a card is; they do not reach into its state or the card core',
  },
  {
    from: 'simulator/state/',
    not: ['simulator/card/', 'simulator/transport/', 'simulator/issuer/', 'simulator/profile/', ...OUTSIDE_SIMULATOR],
    why: 'the state store is below the card',
  },
  { from: 'simulator/', not: OUTSIDE_SIMULATOR, why: 'the simulator does not depend on the harness, the bench or the tests' },
  { from: 'harness/pcsc/', not: ['harness/flows/', 'harness/cli/', 'harness/serve/'], why: 'the PC/SC client is below the flows and the CLI' },
  { from: 'harness/', not: ['bench/', 'tests/', 'scripts/'], why: 'the harness does not depend on the bench or the tests' },
  { from: 'bench/', not: ['tests/'], why: 'the bench stands on the product, not on test support' },
];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'fixtures') out.push(...sources(p));
    } else if (/\.(ts|mts|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The import specifiers of a file: static imports, re-exports, dynamic imports and `import type`. */
function importsOf(text: string): string[] {
  const specs: string[] = [];
  const re = /(?:\bimport\s*(?:type\s+)?(?:[\w*{}\s,$]+\s+from\s+)?|\bexport\s*(?:type\s+)?[\w*{}\s,$]+\s+from\s+|\bimport\s*\(\s*)['"]([^'"]+)['"]/g;
  for (const m of text.matchAll(re)) specs.push(m[1]);
  return specs;
}

/** A specifier as a project path relative to the root (`simulator/card/card.ts`), or the package name. */
function target(file: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return relative(ROOT, normalize(join(ROOT, dirname(file), spec)))
    .split('\\')
    .join('/');
}

function violations(files: Array<{ path: string; text: string }>, rules: Rule[] = RULES): string[] {
  const found: string[] = [];
  for (const { path, text } of files) {
    for (const spec of importsOf(text)) {
      const to = target(path, spec);
      for (const rule of rules) {
        if (!path.startsWith(rule.from)) continue;
        const hit = rule.not.find((n) => (n.endsWith('/') ? to.startsWith(n) : to === n));
        if (hit) found.push(`${path} imports ${spec}: ${rule.from} may not import ${hit} (${rule.why})`);
      }
    }
  }
  return [...new Set(found)];
}

describe('layers', () => {
  it('no import runs against the arrows', () => {
    const files = ['simulator', 'harness', 'bench', 'scripts'].flatMap(sources).map((path) => ({ path, text: readFileSync(join(ROOT, path), 'utf8') }));
    expect(files.length).toBeGreaterThan(40);
    expect(violations(files)).toEqual([]);
  });

  it('the check itself catches an arrow that comes back (applets importing the card)', () => {
    const bad = { path: 'simulator/applets/index.ts', text: "import type { Ef } from '../card/model.ts';\nimport { x } from '../apdu/sw.ts';" };
    expect(violations([bad])).toEqual([
      'simulator/applets/index.ts imports ../card/model.ts: simulator/applets/ may not import simulator/card/ (applets are tables of files and keys below the card)',
    ]);
    const dyn = { path: 'bench/x.ts', text: "const m = await import('../tests/support/card.ts');" };
    expect(violations([dyn])).toHaveLength(1);
    const fsInCard = { path: 'simulator/card/build.ts', text: "import { readFileSync } from 'node:fs';" };
    expect(violations([fsInCard])).toHaveLength(1);
  });
});
