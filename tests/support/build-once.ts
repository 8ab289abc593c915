/**
 * vitest globalSetup: builds dist/ once before any test runs, so that every test that spawns
 * `bin/myna-hil.mjs` runs the current sources and none of them rebuilds concurrently with another.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL('../../scripts/build.mjs', import.meta.url)), '--quiet'], { stdio: 'inherit' });
}
