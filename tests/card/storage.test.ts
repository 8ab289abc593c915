/**
 * Memory and the state file never disagree. When the state cannot be saved the card answers 65 81
 * (memory failure), as a real card whose non-volatile write fails, and changes nothing: no comparison
 * is made, no try is refunded or silently spent, and once storage is back the counters are exactly
 * what they were. Issuer operations throw and change nothing. The host learns of it through onFault.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VirtualCard } from '../../simulator/card/card.ts';
import { resetCounter, setPin } from '../../simulator/issuer/issuer.ts';
import { StorageFailure } from '../../simulator/pin/pin.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { FileStore, type StateStore } from '../../simulator/state/store.ts';
import { testCard, testProfile, tx, verifyCmd } from '../support/card.ts';
import { FaultyStore } from '../support/stores.ts';

const JPKI = '00A4040C0AD392F000260100000001';
const AUTH = '00A4020C020018';
const SIGN = '00A4020C02001B';

let profile: Profile;
let dir: string;
beforeAll(async () => {
  profile = await testProfile();
  dir = mkdtempSync(join(tmpdir(), 'myna-storage-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cardOn(store: StateStore): { card: VirtualCard; faults: Array<[string, number]> } {
  const card = testCard(profile, { store });
  const faults: Array<[string, number]> = [];
  card.onFault = (err, sw) => faults.push([(err as Error).name, sw]);
  return { card, faults };
}

const authValue = () => profile.pins.auth.value;
const wrongAuth = () => (authValue() === '0000' ? '9999' : '0000');

describe('a state store that fails on demand', () => {
  it('three correct PINs while saving fails: 65 81 each, no comparison, the counter unchanged in memory and in the store', () => {
    const store = new FaultyStore();
    const { card, faults } = cardOn(store);
    tx(card, JPKI);
    tx(card, AUTH);
    store.failing = true;
    for (let i = 0; i < 3; i++) expect(tx(card, verifyCmd(authValue())).swHex).toBe('6581');
    expect(card.pin('auth').remaining).toBe(3);
    expect(card.isVerified('auth')).toBe(false);
    expect(faults).toEqual([
      ['StorageFailure', 0x6581],
      ['StorageFailure', 0x6581],
      ['StorageFailure', 0x6581],
    ]);
    // storage back: the next save of *another* PIN must not write a spent auth counter
    store.failing = false;
    tx(card, SIGN);
    expect(tx(card, verifyCmd('WRONG1')).swHex).toBe('63C4');
    expect(store.stored('auth')).toBe(3);
    tx(card, AUTH);
    expect(tx(card, '00200080').swHex).toBe('63C3');
    expect(tx(card, verifyCmd(authValue())).swHex).toBe('9000');
  });

  it('the fault is reported through onFault with a message that says nothing was changed, never thrown', () => {
    const store = new FaultyStore();
    const card = testCard(profile, { store });
    const faults: unknown[] = [];
    card.onFault = (e) => faults.push(e);
    store.failing = true;
    tx(card, JPKI);
    tx(card, AUTH);
    expect(tx(card, verifyCmd(wrongAuth())).swHex).toBe('6581');
    expect(faults.map((e) => (e as Error).message)).toEqual(['the card state could not be saved, nothing was changed: EIO: i/o error writing the state']);
  });

  it('a wrong PIN while saving fails is not silently spent: 65 81, the counter stays', () => {
    const store = new FaultyStore();
    const { card } = cardOn(store);
    tx(card, JPKI);
    tx(card, AUTH);
    expect(tx(card, verifyCmd(wrongAuth())).swHex).toBe('63C2');
    store.failing = true;
    expect(tx(card, verifyCmd(wrongAuth())).swHex).toBe('6581');
    expect([card.pin('auth').remaining, store.stored('auth')]).toEqual([2, 2]);
    store.failing = false;
    expect(tx(card, '00200080').swHex).toBe('63C2');
  });

  it('the reset to the maximum after a correct PIN fails: the spent try stands (as saved), 65 81, not verified', () => {
    const store = new FaultyStore();
    const { card } = cardOn(store);
    tx(card, JPKI);
    tx(card, AUTH);
    expect(tx(card, verifyCmd(wrongAuth())).swHex).toBe('63C2');
    store.failFrom = store.saves + 2; // the decrement is saved, the reset is not
    expect(tx(card, verifyCmd(authValue())).swHex).toBe('6581');
    expect([card.pin('auth').remaining, store.stored('auth')]).toEqual([1, 1]);
    expect(card.isVerified('auth')).toBe(false);
    tx(card, '00A4020C020017');
    expect(tx(card, '802A00800100').swHex).toBe('6982'); // the auth key is not usable
    store.failFrom = Infinity;
    tx(card, AUTH);
    expect(tx(card, '00200080').swHex).toBe('63C1');
    expect(tx(card, verifyCmd(authValue())).swHex).toBe('9000');
    expect([card.pin('auth').remaining, store.stored('auth')]).toEqual([3, 3]);
  });

  it('CHANGE while saving fails: 65 81, the old value stays in memory and in the store', () => {
    const store = new FaultyStore();
    const { card } = cardOn(store);
    tx(card, JPKI);
    tx(card, SIGN);
    expect(tx(card, verifyCmd(profile.pins.sign.value)).swHex).toBe('9000');
    store.failing = true;
    expect(tx(card, `0024018008${Buffer.from('CHANGED1').toString('hex')}`).swHex).toBe('6581');
    expect(store.load()?.pins.sign?.value).toBe(profile.pins.sign.value);
    store.failing = false;
    card.reset();
    tx(card, JPKI);
    tx(card, SIGN);
    expect(tx(card, verifyCmd('CHANGED1')).swHex).toBe('63C4');
    expect(tx(card, verifyCmd(profile.pins.sign.value)).swHex).toBe('9000');
  });

  it('issuer reset-counter and set-pin throw StorageFailure and change nothing', () => {
    const store = new FaultyStore();
    const { card } = cardOn(store);
    tx(card, JPKI);
    tx(card, AUTH);
    expect(tx(card, verifyCmd(wrongAuth())).swHex).toBe('63C2');
    store.failing = true;
    expect(() => resetCounter(card, 'auth')).toThrow(StorageFailure);
    expect(() => setPin(card, 'auth', '8642')).toThrow(StorageFailure);
    expect([card.pin('auth').remaining, store.stored('auth')]).toEqual([2, 2]);
    store.failing = false;
    expect(tx(card, verifyCmd('8642')).swHex).toBe('63C1'); // the new value was not set
    expect(tx(card, verifyCmd(authValue())).swHex).toBe('9000');
  });
});

describe('a FileStore whose directory is removed, then re-created', () => {
  it('65 81 while it is gone; afterwards the counter is exactly what it was and the correct PIN gives 90 00', () => {
    const sub = join(dir, 'gone');
    mkdirSync(sub);
    const path = join(sub, 'card.state.json');
    const { card, faults } = cardOn(new FileStore(path));
    const onDisk = () => JSON.parse(readFileSync(path, 'utf8')).pins.auth.remaining as number;
    tx(card, JPKI);
    tx(card, AUTH);
    expect(tx(card, verifyCmd(wrongAuth())).swHex).toBe('63C2');
    rmSync(sub, { recursive: true });
    for (let i = 0; i < 3; i++) expect(tx(card, verifyCmd(authValue())).swHex).toBe('6581');
    expect(card.pin('auth').remaining).toBe(2);
    expect(faults.every(([name, sw]) => name === 'StorageFailure' && sw === 0x6581)).toBe(true);
    expect(faults).toHaveLength(3);
    mkdirSync(sub);
    expect(existsSync(path)).toBe(false);
    // the next save (a wrong sign password) writes the whole state: auth still 2 of 3, not 0 (LOCKED)
    tx(card, SIGN);
    expect(tx(card, verifyCmd('WRONG1')).swHex).toBe('63C4');
    expect(onDisk()).toBe(2);
    tx(card, AUTH);
    expect(tx(card, '00200080').swHex).toBe('63C2');
    expect(tx(card, verifyCmd(authValue())).swHex).toBe('9000');
    expect(onDisk()).toBe(3);
  });
});
