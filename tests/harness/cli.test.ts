/**
 * `myna-hil demo` and `myna-hil issuer` as a user runs them.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, cliWith } from '../support/cli.ts';

let dir: string;
let card: string;
const AUTH = '7391';
const SIGN = 'PASS7391';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'myna-hil-cli-'));
  card = join(dir, 'card.json');
  const r = await cli('card', 'new', '--out', card, '--auth-pin', AUTH, '--sign-pin', SIGN);
  expect(r.code).toBe(0);
});

describe('demo', () => {
  it('runs every flow on a saved card, exit 0, and prints no PIN value', async () => {
    const r = await cli('demo', '--card', card);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\n6 passed, 0 failed \(\d+ APDUs\)\n$/);
    expect(r.stdout).toContain('> 00 20 00 80 <redacted>  (VERIFY)');
    for (const secret of [
      AUTH,
      SIGN,
      Buffer.from(AUTH)
        .toString('hex')
        .toUpperCase()
        .replace(/(..)(?!$)/g, '$1 '),
    ]) {
      expect(r.stdout + r.stderr).not.toContain(secret);
    }
  });

  it('exits 1 when the authenticity check fails on a tampered card', async () => {
    const tampered = join(dir, 'tampered.json');
    const p = JSON.parse(readFileSync(card, 'utf8'));
    p.holder.address = '大阪府大阪市北区１－１';
    writeFileSync(tampered, JSON.stringify(p));
    const r = await cli('demo', '--card', tampered, '--flow', 'auth-check', '--quiet');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('✗ DF33 (issuer signature over DF31 ‖ DF32) verifies');
    expect(r.stdout).toContain('0 passed, 1 failed');
  });

  it('an unknown flow is exit 2 and lists the flows', async () => {
    const r = await cli('demo', '--card', card, '--flow', '9.9');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the flows are 11\.1, 11\.2, 11\.3, 11\.5, auth-check, 11\.6/);
  });
});

describe('issuer', () => {
  it('status, then a locked PIN is reset and a new value set, through the state file', async () => {
    const state = join(dir, 'state.json');
    // lock the auth PIN by running the destructive error-trace flow on the state file
    expect((await cli('demo', '--card', card, '--state', state, '--flow', '11.6', '--quiet')).code).toBe(0);
    let s = await cli('issuer', 'status', '--card', card, '--state', state);
    expect(s.stdout).toMatch(/^auth\s+0\/3 tries left\s+LOCKED$/m);
    expect(s.stdout).toMatch(/^sign\s+5\/5 tries left$/m);
    expect((await cli('issuer', 'reset-counter', '--card', card, '--state', state, '--pin', 'auth')).code).toBe(0);
    s = await cli('issuer', 'status', '--card', card, '--state', state);
    expect(s.stdout).toMatch(/^auth\s+3\/3 tries left$/m);
    const bad = await cli('issuer', 'set-pin', '--card', card, '--state', state, '--pin', 'sign', '--value', 'ONLYLETTERS');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/at least one letter and one digit/);
    expect((await cli('issuer', 'set-pin', '--card', card, '--state', state, '--pin', 'sign', '--value', 'NEW1PASS')).code).toBe(0);
    expect(JSON.parse(readFileSync(state, 'utf8')).pins.sign).toEqual({ value: 'NEW1PASS', remaining: 5 });
    // the demo's sign flow now fails with the old password and names the status word
    const r = await cli('demo', '--card', card, '--state', state, '--flow', '11.2', '--quiet');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('answered 63C4');
  });

  describe('PIN values from a file, standard input or a variable (never the command line, which ps shows)', () => {
    const setPin = (opts: Parameters<typeof cliWith>[0], state: string, ...value: string[]) =>
      cliWith(opts, 'issuer', 'set-pin', '--card', card, '--state', state, '--pin', 'auth', ...value);
    const authOf = (state: string) => JSON.parse(readFileSync(state, 'utf8')).pins.auth;

    it('standard input, a file and a variable each set the value; one trailing newline is dropped; the lock is released', async () => {
      const state = join(dir, 'sources.json');
      let r = await setPin({ stdin: '4321\n' }, state, '--value-file', '-');
      expect(r.code, r.stderr).toBe(0);
      expect(authOf(state)).toEqual({ value: '4321', remaining: 3 });
      const file = join(dir, 'auth.txt');
      writeFileSync(file, '5678\r\n');
      r = await setPin({}, state, '--value-file', file);
      expect(r.code, r.stderr).toBe(0);
      expect(authOf(state).value).toBe('5678');
      r = await setPin({ env: { MYNA_TEST_NEW_AUTH: '8765' } }, state, '--value-env', 'MYNA_TEST_NEW_AUTH');
      expect(r.code, r.stderr).toBe(0);
      expect(authOf(state).value).toBe('8765');
      expect(existsSync(`${state}.lock`)).toBe(false);
    });

    it('only one newline goes: a second one makes the value malformed, and it is not echoed', async () => {
      const state = join(dir, 'newlines.json');
      const r = await setPin({ stdin: '4321\n\n' }, state, '--value-file', '-');
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('myna-hil: new auth PIN does not match its format (4 digits)\n');
    });

    it.each([
      ['no source', [], 'myna-hil: --value: missing (fix: give --value-file PATH, --value-file - for standard input, --value-env VAR, or --value VALUE)\n'],
      ['two sources', ['--value', '1111', '--value-file', '-'], 'myna-hil: --value and --value-file: give the value of --value once, from one of them\n'],
    ])('%s is exit 2', async (_what, value, message) => {
      const r = await setPin({ stdin: '2222' }, join(dir, 'none.json'), ...value);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(message);
    });

    it('reinit-sign-password reads its value the same way, before it contacts serve', async () => {
      const r = await cli('issuer', 'reinit-sign-password', '--control', join(dir, 'no.sock'), '--value-env', 'MYNA_TEST_UNSET');
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        'myna-hil: --value-env MYNA_TEST_UNSET: the environment variable MYNA_TEST_UNSET is not set (fix: export it, or name another variable)\n',
      );
      const help = await cli('issuer', 'reinit-sign-password', '--help');
      expect(help.stdout).toContain('--value-file');
      expect(help.stdout).toContain('--value-env');
      expect(help.stdout).toMatch(/the new password from standard input\n.*--value-file -\n/);
      expect(help.stdout.replace(/\s+/g, ' ')).toContain('give exactly one of the three');
    });
  });
});
