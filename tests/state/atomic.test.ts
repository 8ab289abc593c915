/**
 * writeFileAtomic (simulator/fs/atomic.ts): a crash at any point leaves the old file complete; the
 * temporary file is private and unguessable; a crashed writer's leftovers (they hold PIN values) go
 * at the next load of the state file.
 */
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempFiles, writeFileAtomic } from '../../simulator/fs/atomic.ts';
import { FileStore, STATE_FORMAT } from '../../simulator/state/store.ts';
import { startFixture } from './child.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'myna-hil-atomic-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => join(mkdtempSync(join(dir, `${name}-${n++}-`)), 'card.state.json');
const temps = (path: string) => readdirSync(join(path, '..')).filter((f) => f.includes('.tmp-'));

const OLD_DOC = { format: STATE_FORMAT, version: 1, card: 'c', updatedAt: '', pins: { auth: { value: '7391', remaining: 3 } } };
const OLD = `${JSON.stringify(OLD_DOC, null, 2)}\n`;

describe('a writer killed mid-write', () => {
  it.each(['write', 'rename'])('killed at %s: the old file is intact and complete; the next load removes the leftover', async (at) => {
    const path = fresh(at);
    writeFileSync(path, OLD, { mode: 0o600 });
    const child = startFixture('crash-writer', path, at, String(64 << 10));
    await child.waitForLine('ready');
    child.proc.kill('SIGKILL');
    expect(await child.ended).toBe('SIGKILL');

    expect(readFileSync(path, 'utf8')).toBe(OLD);
    const left = temps(path);
    expect(left).toHaveLength(1); // the dead writer's temporary file, with (part of) the new contents
    expect(readFileSync(join(path, '..', left[0]), 'utf8')).toMatch(/^N+$/);

    const store = new FileStore(path);
    try {
      expect(store.load()).toEqual(OLD_DOC);
      expect(temps(path)).toEqual([]);
    } finally {
      store.close();
    }
  });
});

describe('the temporary file', () => {
  it('is never opened through a symlink planted at a guessable name', () => {
    const path = fresh('symlink');
    const victim = join(path, '..', 'victim');
    writeFileSync(victim, 'untouched');
    // The names the old writer used: .<name>.tmp-<pid>-<counter>.
    for (let i = 0; i < 50; i++) symlinkSync(victim, join(path, '..', `.card.state.json.tmp-${process.pid}-${i}`));
    writeFileAtomic(path, 'secret 7391');
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
    expect(lstatSync(path).isFile()).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('secret 7391');
  });

  it('leaves a file of mode 0600 and no temporary file', () => {
    const path = fresh('mode');
    writeFileAtomic(path, 'a');
    expect(lstatSync(path).mode & 0o777).toBe(0o600);
    expect(temps(path)).toEqual([]);
  });

  it('exclusive: an existing target is not replaced (EEXIST), and nothing is left behind', () => {
    const path = fresh('exclusive');
    writeFileAtomic(path, 'first', { exclusive: true });
    expect(() => writeFileAtomic(path, 'second', { exclusive: true })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(readFileSync(path, 'utf8')).toBe('first');
    expect(temps(path)).toEqual([]);
    writeFileAtomic(path, 'third');
    expect(readFileSync(path, 'utf8')).toBe('third');
  });
});

describe('removeTempFiles', () => {
  it("removes only the named file's leftovers", () => {
    const path = fresh('leftovers');
    const sib = (f: string) => join(path, '..', f);
    for (const f of ['.card.state.json.tmp-1234-0', '.card.state.json.tmp-9f8e7d6c5b4a3921', '.other.json.tmp-1', 'card.state.json.tmp-1', 'card.state.json'])
      writeFileSync(sib(f), '7391');
    expect(removeTempFiles(path).sort()).toEqual(['.card.state.json.tmp-1234-0', '.card.state.json.tmp-9f8e7d6c5b4a3921']);
    for (const f of ['.other.json.tmp-1', 'card.state.json.tmp-1', 'card.state.json']) expect(existsSync(sib(f))).toBe(true);
  });
});
