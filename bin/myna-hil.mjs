#!/usr/bin/env node
// The `myna-hil` command: runs the CLI bundle in dist/, built once by `npm run build` (scripts/build.mjs,
// also run by `npm ci` and `npm pack` through `prepare`). Nothing is written at run time, except in a
// checkout (a tsconfig.json beside bin/, which the package does not ship): there a source file newer
// than the build is rebuilt first, so an edited source never runs stale.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = join(root, 'dist', 'build.json');

/** The first source file changed since the build (or 'no build'), or undefined when dist/ is current. */
function staleBecause() {
  let built;
  try {
    built = statSync(manifest).mtimeMs;
  } catch {
    return 'no build yet';
  }
  const { inputs } = JSON.parse(readFileSync(manifest, 'utf8'));
  for (const file of inputs) {
    try {
      if (statSync(join(root, file)).mtimeMs > built) return `${file} changed`;
    } catch {
      return `${file} is gone`;
    }
  }
  return undefined;
}

if (existsSync(join(root, 'tsconfig.json'))) {
  const why = staleBecause();
  if (why) {
    const { buildDist } = await import('../scripts/build.mjs');
    await buildDist(root);
    if (process.env.MYNA_HIL_DEBUG_BUILD) console.error(`myna-hil: rebuilt dist/ (${why})`);
  }
} else if (!existsSync(manifest)) {
  console.error(`myna-hil: this installation has no dist/ (the package was packed without running \`npm run build\`); reinstall it`);
  process.exit(2);
}

process.setSourceMapsEnabled(true); // linked maps: stack traces point at the .ts files
await import(pathToFileURL(join(root, 'dist', 'cli', 'main.mjs')).href);
