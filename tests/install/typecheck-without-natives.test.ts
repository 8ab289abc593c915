/**
 * `npm install` skips the optional native packages where they cannot build (pcsclite needs
 * libpcsclite-dev), and the project must still typecheck there: tsc runs against a node_modules that
 * has every installed package but pcsclite and koffi (types/optional-natives.d.ts declares what the
 * project uses of them).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NATIVES = ['pcsclite', 'koffi'];

describe('typecheck without the optional native packages', () => {
  const work = mkdtempSync(join(tmpdir(), 'myna-hil-tsc-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('tsc --noEmit passes with pcsclite and koffi absent', () => {
    // A copy of the project's view: its sources by symlink, and a node_modules without the natives.
    for (const entry of ['types', 'simulator', 'harness', 'tests', 'bench', 'scripts', 'vitest.config.ts', 'package.json']) {
      symlinkSync(join(ROOT, entry), join(work, entry));
    }
    const modules = join(work, 'node_modules');
    mkdirSync(modules);
    const installed = readdirSync(join(ROOT, 'node_modules'));
    for (const natives of NATIVES) expect(installed, `${natives} is installed here, so the test means something`).toContain(natives);
    for (const name of installed) if (!NATIVES.includes(name)) symlinkSync(join(ROOT, 'node_modules', name), join(modules, name));
    writeFileSync(
      join(work, 'tsconfig.json'),
      JSON.stringify({
        extends: join(ROOT, 'tsconfig.json'),
        compilerOptions: { preserveSymlinks: true },
        include: ['types', 'simulator', 'harness', 'tests', 'bench', 'scripts', 'vitest.config.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    let output = '';
    try {
      execFileSync(process.execPath, [tsc, '--noEmit', '-p', work], { cwd: work, encoding: 'utf8' });
    } catch (err) {
      output = String((err as { stdout?: string }).stdout ?? err);
    }
    expect(output).toBe('');
  });
});
