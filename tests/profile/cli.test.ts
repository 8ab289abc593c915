/**
 * `myna-hil card new` / `card show` as a user runs them: exit codes, refusal to overwrite, progress on
 * stderr, and no PIN value or private key in any output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, type Run } from '../support/cli.ts';

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

  it('has --help with examples', async () => {
    const r = await cli('card', 'new', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('--locked-pin');
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

  it('a missing file is exit 2 with the path', async () => {
    const r = await cli('card', 'show', join(dir, 'none.json'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('none.json: cannot read the card profile: no such file');
  });
});
