/**
 * `myna-hil card new` / `card show` as a user runs them: exit codes, refusal to overwrite, progress on
 * stderr, and no PIN value or private key in any output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, cliWith, type Run } from '../support/cli.ts';

const SIGN_PIN = 'QWE987ZXC'; // appears nowhere unless leaked

let dir: string;
let file: string;
let first: Run;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'myna-cli-'));
  file = join(dir, 'card.json');
  first = await cli('card', 'new', '--out', file, '--sign-pin', SIGN_PIN, '--name', '佐藤　一郎');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('card new', () => {
  it('writes the profile, with progress on stderr and no PIN value anywhere', () => {
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('generating 9 RSA-2048 keys…');
    expect(first.stdout).toContain(`${file}: adult card for 佐藤　一郎`);
    expect(first.stdout + first.stderr).not.toContain(SIGN_PIN);
    expect(existsSync(file)).toBe(true);
  });

  it('refuses to overwrite without --force (exit 2)', async () => {
    const r = await cli('card', 'new', '--out', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: the file exists; refusing to overwrite it (fix: add --force, or choose another --out)`);
  });

  it('rejects a bad option value with exit 2, naming it, without writing a file', async () => {
    const out = join(dir, 'bad.json');
    const r = await cli('card', 'new', '--out', out, '--my-number', '123456789012');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('option myNumber (--my-number): the check digit is wrong');
    expect(existsSync(out)).toBe(false);
  });

  it('has --help with examples, including PIN values from a file, standard input and a variable', async () => {
    const r = await cli('card', 'new', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('--locked-pin');
    for (const pin of ['sign', 'auth', 'juki', 'kenmen', 'common']) {
      for (const o of [`--${pin}-pin-file`, `--${pin}-pin-env`]) expect(r.stdout).toContain(o);
    }
    const text = r.stdout.replace(/\s+/g, ' ');
    expect(text).toContain('printf \'%s\\n\' "$SIGN" | myna-hil card new -o'); // the example reading standard input
    expect(text).toContain(
      'PIN values: each --X value option has --X-file PATH (- reads standard input; one trailing newline is dropped) and --X-env VAR; give exactly one of the three.',
    );
  });

  it('--out naming a directory is exit 2 with the fix, even with --force, before any key is made', async () => {
    const sub = join(dir, 'a-directory');
    mkdirSync(sub);
    for (const force of [['--force'], []]) {
      const r = await cliWith({ timeoutMs: 30_000 }, 'card', 'new', '--out', sub, ...force);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        `myna-hil: ${sub}: is a directory; --out names the profile file to write (fix: give a file path, e.g. ${join(sub, 'card.json')})\n`,
      );
    }
  });

  it('a file that appears at --out while the keys are made is not overwritten without --force', async () => {
    const out = join(dir, 'raced.json');
    const r = await cliWith({ onStderr: (chunk) => chunk.includes('generating') && writeFileSync(out, 'made meanwhile') }, 'card', 'new', '--out', out);
    expect(r.stderr).toContain('generating');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${out}: the file appeared while the card was generated; refusing to overwrite it (fix: add --force, or choose another --out)`);
    expect(readFileSync(out, 'utf8')).toBe('made meanwhile');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('takes PIN values from a file, standard input and environment variables, one trailing newline dropped, none printed', async () => {
    const out = join(dir, 'pins.json');
    const signFile = join(dir, 'sign.txt');
    writeFileSync(signFile, 'FILE7391\n');
    const r = await cliWith(
      { stdin: '2468\n', env: { MYNA_TEST_AUTH: '1357', MYNA_TEST_COMMON: '9753' } },
      'card',
      'new',
      '--out',
      out,
      '--sign-pin-file',
      signFile,
      '--auth-pin-env',
      'MYNA_TEST_AUTH',
      '--kenmen-pin-file',
      '-',
      '--common-pin-env',
      'MYNA_TEST_COMMON',
      '--juki-pin',
      '8642',
    );
    expect(r.code, r.stderr).toBe(0);
    const pins = JSON.parse(readFileSync(out, 'utf8')).pins;
    expect([pins.sign.value, pins.auth.value, pins.kenmen.value, pins.common.value, pins.juki.value]).toEqual(['FILE7391', '1357', '2468', '9753', '8642']);
    for (const v of ['FILE7391', '1357', '2468', '9753', '8642']) expect(r.stdout + r.stderr).not.toContain(v);
  });

  it.each([
    [
      'two sources for one PIN',
      ['--auth-pin', '1234', '--auth-pin-env', 'MYNA_TEST_UNSET'],
      '--auth-pin and --auth-pin-env: give the value of --auth-pin once, from one of them',
    ],
    [
      'an unset variable',
      ['--auth-pin-env', 'MYNA_TEST_UNSET'],
      '--auth-pin-env MYNA_TEST_UNSET: the environment variable MYNA_TEST_UNSET is not set (fix: export it, or name another variable)',
    ],
    [
      'a missing file',
      ['--sign-pin-file', '/nonexistent/sign.txt'],
      '--sign-pin-file /nonexistent/sign.txt: cannot read it: no such file (fix: give a readable file, or - for standard input)',
    ],
    [
      'standard input twice',
      ['--sign-pin-file', '-', '--auth-pin-file', '-'],
      '--auth-pin-file -: standard input is already read for --sign-pin-file (fix: give one of them a file or a variable)',
    ],
  ])('%s is exit 2 before any key is made, without a file', async (_what, opts, message) => {
    const out = join(dir, 'never.json');
    const r = await cliWith({ stdin: 'ABC123\n', timeoutMs: 30_000 }, 'card', 'new', '--out', out, ...opts);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`myna-hil: ${message}\n`);
    expect(existsSync(out)).toBe(false);
  });
});

describe('card show', () => {
  it('prints holder, certificates and PIN tries, never PIN values or private keys', async () => {
    const r = await cli('card', 'show', file);
    expect(r.code, r.stderr).toBe(0);
    for (const s of ['variant adult', '佐藤　一郎', 'PINs (values not shown)', 'SHA-256', 'myna-hil TEST CA for digital signature', '5/5 tries']) {
      expect(r.stdout).toContain(s);
    }
    expect(r.stdout).not.toContain(SIGN_PIN);
    expect(r.stdout).not.toContain('PRIVATE KEY');
  });

  it('--json prints the redacted profile', async () => {
    const r = await cli('card', 'show', file, '--json');
    expect(r.code).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.pins.sign.value).toBe('<redacted>');
    expect(p.keys.auth).toMatch(/^<private key, \d+ bytes>$/);
    expect(r.stdout).not.toContain(SIGN_PIN);
  });

  it('a FIFO is exit 2 at once, instead of waiting for a writer', async () => {
    const fifo = join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    const r = await cliWith({ timeoutMs: 30_000 }, 'card', 'show', fifo);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `myna-hil: ${fifo}: cannot read the card profile: it is a FIFO (named pipe) (fix: give the path of a file made by \`myna-hil card new\`)\n`,
    );
  });

  it('a missing file is exit 2 with the path', async () => {
    const r = await cli('card', 'show', join(dir, 'none.json'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('none.json: cannot read the card profile: no such file');
  });
});
