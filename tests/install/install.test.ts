/**
 * The package as a user gets it: `npm pack`, installed into a temporary prefix, runs `myna-hil demo`
 * without writing anything into its install directory; and in a checkout, an edited source is never
 * run stale (bin/myna-hil.mjs rebuilds dist/ first).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NPM_ENV = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };

/** Every file under `dir` with its size and mtime: what "nothing was written" is checked against. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = statSync(p);
        files.set(relative(dir, p), `${st.size}:${st.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return files;
}

describe('npm pack, installed into a temporary prefix', () => {
  let work: string;
  let tarball: string;
  let contents: string[];

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'myna-hil-pack-'));
    // dist/ was built by the test set-up (tests/support/build-once.ts); --ignore-scripts keeps `prepare`
    // from rebuilding it under the other tests' feet.
    const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: ROOT, env: NPM_ENV, encoding: 'utf8' });
    const [info] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = join(work, info.filename);
    contents = info.files.map((f) => f.path);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('ships what a user runs and reads, not the tests, the bench or CI', () => {
    for (const f of [
      'bin/myna-hil.mjs',
      'dist/build.json',
      'dist/cli/main.mjs',
      'package.json',
      'README.md',
      'LICENSE',
      'simulator/card/card.ts',
      'harness/cli/main.ts',
      'scripts/pcsc-stack.sh',
    ]) {
      expect(contents, f).toContain(f);
    }
    expect(
      contents.some((f) => f.startsWith('docs/')),
      'docs/',
    ).toBe(true);
    for (const prefix of ['tests/', 'bench/', '.ci/', 'node_modules/', 'reports/', 'bin/launch.mjs', 'bin/run-ts.mjs', 'tsconfig.json']) {
      expect(
        contents.filter((f) => f.startsWith(prefix)),
        prefix,
      ).toEqual([]);
    }
  });

  it('`myna-hil demo` runs from the install and writes nothing into it', () => {
    const prefix = join(work, 'prefix');
    execFileSync('npm', ['install', '--global', '--prefix', prefix, '--omit=optional', '--ignore-scripts', '--no-save', tarball], {
      cwd: work,
      env: NPM_ENV,
      encoding: 'utf8',
    });
    const pkg = join(prefix, 'lib', 'node_modules', 'myna-hil');
    const before = snapshot(pkg);
    // Read-only for good measure (root ignores the mode bits: the snapshot comparison is the real check).
    execFileSync('chmod', ['-R', 'a-w', pkg]);
    try {
      const run = spawnSync(join(prefix, 'bin', 'myna-hil'), ['demo'], {
        cwd: work,
        env: { ...process.env, FORCE_COLOR: '0', HOME: work },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.stderr).not.toMatch(/Error|rebuilt/);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/\b6 passed, 0 failed\b/);
      expect(snapshot(pkg)).toEqual(before);
    } finally {
      execFileSync('chmod', ['-R', 'u+w', pkg]);
    }
  });
});

describe('a checkout never runs a stale build', () => {
  let copy: string;
  beforeAll(() => {
    copy = mkdtempSync(join(tmpdir(), 'myna-hil-checkout-'));
    for (const f of ['bin', 'scripts', 'simulator', 'harness', 'package.json', 'tsconfig.json']) cpSync(join(ROOT, f), join(copy, f), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    execFileSync(process.execPath, ['scripts/build.mjs', '--quiet'], { cwd: copy });
  });
  afterAll(() => rmSync(copy, { recursive: true, force: true }));

  it('an edited source is picked up by the next run of bin/myna-hil.mjs', () => {
    const main = join(copy, 'harness', 'cli', 'main.ts');
    const run = () => spawnSync(process.execPath, [join(copy, 'bin', 'myna-hil.mjs'), '--help'], { cwd: copy, encoding: 'utf8' });
    expect(run().stdout).not.toContain('edited-after-the-build');
    writeFileSync(main, readFileSync(main, 'utf8').replace('test harness.', 'test harness (edited-after-the-build).'));
    // A later mtime than the build's, whatever the file system's time resolution.
    const later = new Date(Date.now() + 2000);
    utimesSync(main, later, later);
    const after = run();
    expect(after.status, after.stderr).toBe(0);
    expect(after.stdout).toContain('edited-after-the-build');
  });
});
