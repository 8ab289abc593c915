/**
 * `npm install` skips the optional native packages where they cannot build (pcsclite needs
 * libpcsclite-dev) or have no prebuilt binary (@lydell/node-pty), and the project must still
 * typecheck there: tsc runs against a node_modules that has every installed package but pcsclite,
 * koffi and @lydell/node-pty (types/optional-natives.d.ts declares what the project uses of them).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NATIVES = ['pcsclite', 'koffi', '@lydell/node-pty'];

/** Links every package of `from` into `to` but the hidden ones; a scope (`@x`) becomes a directory of links. */
function linkPackages(from: string, to: string, hidden: string[], scope = ''): string[] {
  const linked: string[] = [];
  for (const entry of readdirSync(from)) {
    const name = scope + entry;
    if (hidden.includes(name)) continue;
    if (!scope && entry.startsWith('@') && hidden.some((h) => h.startsWith(`${entry}/`))) {
      mkdirSync(join(to, entry));
      linked.push(...linkPackages(join(from, entry), join(to, entry), hidden, `${entry}/`));
    } else {
      symlinkSync(join(from, entry), join(to, entry));
      linked.push(name);
    }
  }
  return linked;
}

/** The installed packages, with scoped ones as `@scope/name`. */
function installedPackages(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => (e.startsWith('@') ? readdirSync(join(dir, e)).map((s) => `${e}/${s}`) : [e]));
}

describe('typecheck without the optional native packages', () => {
  const work = mkdtempSync(join(tmpdir(), 'myna-hil-tsc-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('tsc --noEmit passes with pcsclite, koffi and @lydell/node-pty absent', () => {
    // A copy of the project's view: what tsconfig.json includes, by symlink, and a node_modules without the natives.
    const include = (JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] }).include;
    for (const entry of [...include, 'package.json']) if (existsSync(join(ROOT, entry))) symlinkSync(join(ROOT, entry), join(work, entry));
    const modules = join(work, 'node_modules');
    mkdirSync(modules);
    const installed = installedPackages(join(ROOT, 'node_modules'));
    for (const natives of NATIVES) expect(installed, `${natives} is installed here, so the test means something`).toContain(natives);
    const linked = linkPackages(join(ROOT, 'node_modules'), modules, NATIVES);
    for (const natives of NATIVES) expect(linked).not.toContain(natives);
    expect(linked.filter((n) => n.startsWith('@lydell/node-pty-'))).not.toEqual([]); // the rest of the scope stays
    writeFileSync(
      join(work, 'tsconfig.json'),
      JSON.stringify({
        extends: join(ROOT, 'tsconfig.json'),
        compilerOptions: { preserveSymlinks: true },
        include,
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
