/**
 * The command-line kiosk without PC/SC: its arguments, the reader choice, and the terminal it reads a
 * PIN from (echo off, under a real pseudo-terminal).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCliArgs, pickReader, UsageError } from '../../examples/kiosk/terminal.ts';
import { waitFor } from '../support/wait.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('arguments', () => {
  it('defaults to the auth key and needs a challenge', () => {
    expect(parseCliArgs(['--challenge', 'c.bin'])).toEqual({ key: 'auth', challenge: 'c.bin', reader: undefined, out: undefined });
    expect(() => parseCliArgs([])).toThrow(/--challenge is missing/);
  });

  it.each([
    [['--challenge', 'c', '--key', 'juki'], /--key juki: use --key auth or --key sign/],
    [['--challenge', 'c', '--reader', '('], /--reader \(: not a regular expression/],
    [['--challenge', 'c', '--pin', '1234'], /Unknown option '--pin'/],
  ])('%j is a usage error naming the option', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(UsageError);
    expect(() => parseCliArgs(argv)).toThrow(message);
  });

  it('the reader regex must match exactly one reader', () => {
    const readers = ['Virtual PCD 00 00', 'Virtual PCD 00 01', 'ACS ACR39U 00 00'];
    expect(pickReader(readers, /ACS/)).toBe('ACS ACR39U 00 00');
    expect(() => pickReader(readers, /Virtual/)).toThrow('--reader Virtual matches 2 readers');
    expect(() => pickReader(readers, /Gemalto/)).toThrow('--reader Gemalto matches 0 readers');
    expect(() => pickReader(readers, undefined)).toThrow('3 readers, and no --reader');
    expect(pickReader(['only one'], undefined)).toBe('only one');
  });
});

/** Optional dependency (native prebuilt): without it the PTY test is skipped, with this reason. */
const pty = await import('@lydell/node-pty').catch(() => undefined);

describe('the terminal', () => {
  it.skipIf(!pty)('reads a secret with echo off and a plain answer with echo on (skipped without @lydell/node-pty)', async () => {
    if (!pty) return;
    const child = pty.spawn(process.execPath, ['bin/run-ts.mjs', 'tests/examples/fixtures/ask-secret.ts'], { cwd: ROOT, cols: 120, rows: 10 });
    let transcript = '';
    child.onData((d) => {
      transcript += d;
    });
    const exited = new Promise<number>((resolve) => child.onExit((e) => resolve(e.exitCode)));
    await waitFor(() => transcript.includes('secret: '), { what: 'the secret prompt', timeoutMs: 30_000 });
    child.write('73915\r');
    await waitFor(() => transcript.includes('continue? [y/N] '), { what: 'the plain prompt' });
    child.write('y\r');
    expect(await exited).toBe(0);
    expect(transcript).toContain('secret has 5 characters; answer y');
    expect(transcript).not.toContain('73915');
    expect(transcript).toMatch(/continue\? \[y\/N\] y/); // the plain answer is echoed
  });
});
