#!/usr/bin/env node
/**
 * `npm run build` (also run by `npm ci` / `npm install` in a checkout, and by `npm pack`, through
 * `prepare`): bundles the CLI into dist/ with esbuild, once. The `myna-hil` command then runs plain
 * JavaScript: no transpiler thread in a long-running `serve`, and Node resolves a handful of files
 * instead of hundreds of small package modules at every start.
 *
 * - Project sources and the pure-JS packages are bundled; the native addons (pcsclite, koffi,
 *   @lydell/node-pty) stay external, as optional dependencies loaded only by the code paths that need
 *   them; so does tsx, which the module client driver loads (when installed) to import a .ts client:
 *   its loader registers files by their own paths, which a bundle would not have.
 * - Code splitting keeps dynamic imports lazy: a command loads only its own modules.
 * - The build goes to a fresh directory that replaces dist/ by rename, so a process never imports
 *   half a build. dist/build.json lists the project files that went into it (bin/myna-hil.mjs uses
 *   that list in a checkout to rebuild when a source is newer than the build).
 *
 * Usage: node scripts/build.mjs [--quiet]
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/**
 * What every bundle of the project shares (dist/ here, and bin/launch.mjs's bundles of dev scripts):
 * ES modules for Node 20 with code splitting; the native addons (pcsclite, koffi, @lydell/node-pty),
 * tsx (a loader that finds its own files) and esbuild stay external. The banner gives CommonJS
 * packages inside the bundle (yaml) the `require` they use for Node's built-in modules.
 */
export const BUNDLE_OPTIONS = {
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  external: ['pcsclite', 'koffi', '@lydell/node-pty', 'tsx', 'esbuild'],
  platform: 'node',
  format: 'esm',
  target: 'node20',
  banner: { js: "import { createRequire as __mynaHilRequire } from 'node:module'; const require = __mynaHilRequire(import.meta.url);" },
  sourcemap: 'linked', // read only when a stack trace is mapped; inline maps cost ~40 ms per start
  metafile: true,
  write: false,
  logLevel: 'error',
};

/** Entry points, by output name. */
export const ENTRIES = { main: 'harness/cli/main.ts' };

/** Builds dist/ under `root`; returns the list of project inputs. */
export async function buildDist(root = ROOT) {
  const { build } = await import('esbuild');
  const dist = join(root, 'dist');
  const result = await build({
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([k, v]) => [k, join(root, v)])),
    outdir: join(dist, 'cli'),
    entryNames: '[name]',
    chunkNames: 'chunk-[hash]',
    ...BUNDLE_OPTIONS,
    sourcesContent: false, // the sources ship beside dist/, the maps point at them
    absWorkingDir: root,
  });
  const inputs = Object.keys(result.metafile.inputs)
    .filter((f) => !f.startsWith('node_modules/'))
    .sort();
  const tmp = join(root, `.dist-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  mkdirSync(join(tmp, 'cli'), { recursive: true });
  for (const f of result.outputFiles) {
    const out = join(tmp, 'cli', relative(join(dist, 'cli'), f.path));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, f.contents);
  }
  writeFileSync(
    join(tmp, 'build.json'),
    `${JSON.stringify({ format: 'myna-hil/dist', builtAt: new Date().toISOString(), entries: ENTRIES, inputs }, null, 2)}\n`,
  );
  // Replace dist/ in two renames; the old one is removed afterwards.
  const old = join(root, `.dist-old-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  let hadOld = true;
  try {
    renameSync(dist, old);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
    hadOld = false;
  }
  renameSync(tmp, dist);
  if (hadOld) rmSync(old, { recursive: true, force: true });
  return inputs;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = performance.now();
  const inputs = await buildDist();
  if (!process.argv.includes('--quiet')) {
    console.error(`myna-hil: built dist/ from ${inputs.length} source files in ${Math.round(performance.now() - t0)} ms`);
  }
}
