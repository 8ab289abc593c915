/**
 * Reading a state file (simulator/state/store.ts): a malformed one never echoes its PIN values; a
 * FIFO is refused instead of hanging; a missing directory is named with the fix.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../simulator/errors.ts';
import { parseProfile, saveProfile } from '../../simulator/profile/io.ts';
import { jsonSyntaxReason } from '../../simulator/fs/files.ts';
import { FileStore, parseState } from '../../simulator/state/store.ts';
import { testProfile } from '../support/card.ts';
import { cliWith } from '../support/cli.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'myna-hil-statefile-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const messageOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('no error thrown');
};

describe('a malformed state file', () => {
  it('is named in the error, and the PIN value beside the syntax error is not', () => {
    const path = join(dir, 'bad.json');
    // V8's own message here: Unexpected token 'x', ..."value":x"PASS7391"}}}" is not valid JSON
    writeFileSync(path, '{"format":"myna-hil/card-state","version":1,"card":"c","updatedAt":"","pins":{"sign":{"value":x"PASS7391"}}}');
    const store = new FileStore(path);
    try {
      const m = messageOf(() => store.load());
      expect(m).toBe(`${path}: not valid JSON (Unexpected token 'x'); fix the file or delete it to start from the profile's initial state`);
    } finally {
      store.close();
    }
  });

  it('never quotes a PIN value, whatever the syntax error next to it, in a state file or a profile (property)', () => {
    const secret = fc.stringMatching(/^[A-Z0-9]{3,15}[0-9]$/);
    const junk = fc.constantFrom('x', "'", '#', 'tru', '\u0001', '}', ':', 'nul', '"', ',,');
    fc.assert(
      fc.property(secret, junk, fc.boolean(), (pin, bad, before) => {
        const value = before ? `${bad}"${pin}"` : `"${pin}"${bad}`;
        const text = `{"format":"myna-hil/card-state","version":1,"card":"c","updatedAt":"","pins":{"auth":{"value":${value},"remaining":3}}}`;
        const m = messageOf(() => parseState(text, 'card.state.json'));
        expect(m).toMatch(/^card\.state\.json: not valid JSON \(/);
        expect(m).not.toContain(pin);
        expect(messageOf(() => parseProfile(text.replace('"pins"', '"x":1,"pins"'), 'card.json'))).not.toContain(pin);
      }),
    );
  });

  it('jsonSyntaxReason keeps the reason of a message that quotes nothing', () => {
    expect(jsonSyntaxReason(new SyntaxError('Unexpected end of JSON input'))).toBe('Unexpected end of JSON input');
    expect(jsonSyntaxReason(new SyntaxError('Unterminated string in JSON at position 5'))).toBe('Unterminated string');
    expect(jsonSyntaxReason(new SyntaxError('Unexpected non-whitespace character after JSON at position 7'))).toBe(
      'Unexpected non-whitespace character after JSON',
    );
  });
});

describe('a state path that is not a plain file', () => {
  it('a FIFO is refused at once instead of waiting for a writer', () => {
    const path = join(dir, 'fifo.json');
    execFileSync('mkfifo', [path]);
    const store = new FileStore(path);
    try {
      expect(messageOf(() => store.load())).toBe(
        `${path}: cannot read the state file: it is a FIFO (named pipe) (fix: give the path of a state file, or of one to create)`,
      );
    } finally {
      store.close();
    }
  });

  it('a missing directory names the state file and the fix, exit 2 in the CLI', async () => {
    const card = join(dir, 'card.json');
    saveProfile(card, await testProfile());
    const missing = join(dir, 'no', 'such', 'dir');
    const path = join(missing, 'card.state.json');
    const expected = `${path}: cannot create the state file: the directory ${missing} does not exist (fix: create it, e.g. mkdir -p '${missing}', or give another --state path)`;
    expect(messageOf(() => new FileStore(path))).toBe(expected);
    const r = await cliWith({ timeoutMs: 30_000 }, 'issuer', 'status', '--card', card, '--state', path);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`myna-hil: ${expected}\n`);
  });
});
