/**
 * One process at a time on a state file (simulator/state/lock.ts): two holders would each spend tries
 * in their own copy and the last save would refund the other's. A second FileStore or buildCard is
 * refused naming the holder; the lock goes on close() and at exit; a dead holder's lock is taken over.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCard } from '../../harness/load-card.ts';
import { saveProfile } from '../../simulator/profile/io.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { FileStore } from '../../simulator/state/store.ts';
import { testProfile, tx, verifyCmd } from '../support/card.ts';
import { cli } from '../support/cli.ts';
import { startFixture } from './child.ts';
import { inputErrorOf } from '../support/errors.ts';

const JPKI = '00A4040C0AD392F000260100000001';
let dir: string;
let profile: Profile;
let profilePath: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'myna-hil-lock-'));
  profile = await testProfile();
  profilePath = join(dir, 'card.json');
  saveProfile(profilePath, profile);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(dir, `state-${n++}.json`);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const lockHolder = (path: string) => JSON.parse(readFileSync(`${path}.lock`, 'utf8')).pid as number;

describe('in one process', () => {
  it('a second FileStore on the same file is refused, naming the file and this process; after close() it is free', () => {
    const path = fresh();
    const first = new FileStore(path);
    expect(lockHolder(path)).toBe(process.pid);
    const e = inputErrorOf(() => new FileStore(path));
    expect(e.message).toMatch(
      new RegExp(`^${esc(path)}: the state file is in use by this process \\(pid ${process.pid}\\) \\(lock file ${esc(path)}\\.lock\\)`),
    );
    expect(e.message).toContain('use another --state file');
    first.close();
    expect(existsSync(`${path}.lock`)).toBe(false);
    const second = new FileStore(path);
    first.close(); // idempotent, and does not remove a lock it no longer holds
    expect(lockHolder(path)).toBe(process.pid);
    second.close();
  });

  it('a closed store saves nothing: another process may hold the file by then', () => {
    const path = fresh();
    const store = new FileStore(path);
    store.close();
    expect(() => store.save({ format: 'myna-hil/card-state', version: 1, card: 'c', updatedAt: '', pins: {} })).toThrow(
      `${path}: the state store is closed; the change is not saved`,
    );
    expect(existsSync(path)).toBe(false);
  });

  it("two cards on one state file cannot refund each other's tries: the second buildCard is refused until the first is closed", () => {
    const path = fresh();
    const a = buildCard(profilePath, path);
    expect(() => buildCard(profilePath, path)).toThrow(/the state file is in use by this process/);
    tx(a, JPKI);
    tx(a, '00A4020C020018');
    for (const left of ['63C2', '63C1', '63C0']) expect(tx(a, verifyCmd('0000')).swHex).toBe(left);
    a.close();
    const b = buildCard(profilePath, path);
    try {
      expect(b.pin('auth').remaining).toBe(0);
    } finally {
      b.close();
    }
  });

  it('a card whose state file is refused (another card) does not keep it locked', () => {
    const path = fresh();
    writeFileSync(path, JSON.stringify({ format: 'myna-hil/card-state', version: 1, card: 'another', updatedAt: '', pins: {} }));
    expect(() => buildCard(profilePath, path)).toThrow(/this state belongs to another card/);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('a lock left by a dead process with our pid (a container restart), or by a process whose pid was reused, is taken over', () => {
    const path = fresh();
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: process.pid, token: 'an earlier process' }));
    new FileStore(path).close();
    // pid 1 lives, but it did not start at tick 0: another process once had the pid.
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: 1, start: '0', token: 'x' }));
    new FileStore(path).close();
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('a lock file that is not ours is left alone, and the message says how to proceed', () => {
    const path = fresh();
    writeFileSync(`${path}.lock`, 'hello');
    const e = inputErrorOf(() => new FileStore(path));
    expect(e.message).toContain(`${path}: the state file is in use by a lock file this program cannot read`);
    expect(e.message).toContain(`delete ${path}.lock if no myna-hil uses this state file`);
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe('hello');
  });
});

describe('across processes', () => {
  it('a process holding the state file makes us (and the CLI) refuse, naming its pid; once it is killed, the lock is taken over', async () => {
    const path = fresh();
    const child = startFixture('hold-state', path);
    try {
      await child.waitForLine('ready');
      expect(inputErrorOf(() => new FileStore(path)).message).toContain(`${path}: the state file is in use by process ${child.pid} (lock file ${path}.lock)`);
      const r = await cli('issuer', 'status', '--card', profilePath, '--state', path);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`myna-hil: ${path}: the state file is in use by process ${child.pid}`);
    } finally {
      child.proc.kill('SIGKILL');
    }
    expect(await child.ended).toBe('SIGKILL');
    expect(lockHolder(path)).toBe(child.pid); // no exit handler ran: the lock is stale
    const store = new FileStore(path);
    expect(lockHolder(path)).toBe(process.pid);
    store.close();
  });

  it('a process that exits releases the lock', async () => {
    const path = fresh();
    const child = startFixture('hold-state', path);
    await child.waitForLine('ready');
    expect(existsSync(`${path}.lock`)).toBe(true);
    child.proc.stdin!.end();
    expect(await child.ended).toBe(0);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });
});
