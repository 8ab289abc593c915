/**
 * Persistence: counters and PIN values survive in the state file; the counter is persisted before the
 * comparison (pulling power right after that write still spends the try; a failed write spends
 * nothing and answers 65 81); bad state files fail with a message naming
 * the file and the field; writes are atomic; 照合番号A/B values come from the profile, only their counters
 * from the state. Issuer operations.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PowerLoss } from '../../simulator/card/card.ts';
import { InputError } from '../../simulator/errors.ts';
import { IssuerError, reinitSignPassword, resetCounter, setPin } from '../../simulator/issuer/issuer.ts';
import { myNumberCheckDigit, type Profile } from '../../simulator/profile/schema.ts';
import { FileStore, parseState } from '../../simulator/state/store.ts';
import { testCard, testProfile, tx, verifyCmd } from '../support/card.ts';
import { FaultyStore } from '../support/stores.ts';

const JPKI = '00A4040C0AD392F000260100000001';
const AUTH = '00A4020C020018';
const FACE = '00A4040C0AD3921000310001010402';
let profile: Profile;
let dir: string;
beforeAll(async () => {
  profile = await testProfile();
  dir = mkdtempSync(join(tmpdir(), 'myna-hil-state-'));
});

const fresh = (name: string) => join(dir, `${name}-${Math.random().toString(36).slice(2)}.json`);

/** A FileStore that is closed after the test: a store holds its file's lock until then. */
const opened: FileStore[] = [];
const fileStore = (path: string): FileStore => {
  const s = new FileStore(path);
  opened.push(s);
  return s;
};
/** Closes the stores opened so far: the next card on the same file is another process, as it were. */
const closeAll = () => {
  for (const s of opened.splice(0)) s.close();
};
afterEach(closeAll);

describe('state file', () => {
  it('keeps counters and PIN values across card instances (a new process, a re-insertion)', () => {
    const path = fresh('persist');
    const a = testCard(profile, { store: fileStore(path) });
    tx(a, JPKI);
    tx(a, '00A4020C020018');
    expect(tx(a, verifyCmd('0000')).swHex).toBe('63C2');
    tx(a, '00A4020C02001B');
    tx(a, verifyCmd(profile.pins.sign.value));
    expect(tx(a, `0024018008${Buffer.from('CHANGED1').toString('hex')}`).swHex).toBe('9000');

    closeAll();
    const b = testCard(profile, { store: fileStore(path) });
    expect(b.pin('auth').remaining).toBe(2);
    tx(b, JPKI);
    tx(b, '00A4020C02001B');
    expect(tx(b, verifyCmd('CHANGED1')).swHex).toBe('9000');
    const text = readFileSync(path, 'utf8');
    expect(JSON.parse(text).pins.auth.remaining).toBe(2);
  });

  it('power pulled right after the decremented counter was saved: transmit throws PowerLoss, the try is spent on disk', () => {
    const path = fresh('powerloss');
    const store = new FaultyStore(fileStore(path));
    const card = testCard(profile, { store });
    tx(card, JPKI);
    tx(card, AUTH);
    store.powerLossAfterSave = true;
    // even the *correct* PIN: power is gone before the card compares
    expect(() => tx(card, verifyCmd(profile.pins.auth.value))).toThrow(PowerLoss);
    expect(card.isPowered).toBe(false);
    expect(store.stored('auth')).toBe(2);
    // memory follows what reached the store: the same card object, powered again, agrees with the file
    expect(card.pin('auth').remaining).toBe(2);
    tx(card, JPKI);
    tx(card, AUTH);
    expect(tx(card, '00200080').swHex).toBe('63C2');
    closeAll();
    const after = testCard(profile, { store: fileStore(path) });
    expect(after.pin('auth').remaining).toBe(2);
    tx(after, JPKI);
    tx(after, AUTH);
    expect(tx(after, '00200080').swHex).toBe('63C2');
  });

  it('a save that fails with an I/O error: 65 81, the card stays powered, nothing is spent on disk', () => {
    const path = fresh('eio');
    const store = new FaultyStore(fileStore(path));
    const card = testCard(profile, { store });
    tx(card, JPKI);
    tx(card, AUTH);
    store.failing = true;
    expect(tx(card, verifyCmd(profile.pins.auth.value)).swHex).toBe('6581');
    expect(card.isPowered).toBe(true);
    expect(store.stored('auth')).toBe(3);
    closeAll();
    const after = testCard(profile, { store: fileStore(path) });
    expect(after.pin('auth').remaining).toBe(3);
    tx(after, JPKI);
    tx(after, AUTH);
    expect(tx(after, '00200080').swHex).toBe('63C3');
  });

  it("照合番号A/B follow the profile's holder data; a state file keeps only their counters", () => {
    const path = fresh('holder');
    const a = testCard(profile, { store: fileStore(path) });
    tx(a, FACE);
    tx(a, '00A4020C020013');
    expect(tx(a, verifyCmd('000000000000')).swHex).toBe('63C2');
    const edited: Profile = structuredClone(profile);
    const first11 = '98765432109';
    edited.holder.myNumber = first11 + myNumberCheckDigit(first11);
    closeAll(); // the state file is one holder's at a time
    const b = testCard(edited, { store: fileStore(path) });
    tx(b, FACE);
    tx(b, '00A4020C020013');
    expect(tx(b, '00200080').swHex).toBe('63C2'); // the spent try survived
    expect(tx(b, verifyCmd(profile.holder.myNumber)).swHex).toBe('63C1'); // the old number no longer opens it
    expect(tx(b, verifyCmd(edited.holder.myNumber)).swHex).toBe('9000');
    expect(JSON.parse(readFileSync(path, 'utf8')).pins.faceA.remaining).toBe(3);
  });

  it('is written atomically: no temporary file is left and the file is always complete JSON', () => {
    const path = fresh('atomic');
    const card = testCard(profile, { store: fileStore(path) });
    tx(card, JPKI);
    tx(card, '00A4020C02001B');
    for (let i = 0; i < 3; i++) {
      tx(card, verifyCmd(`WRONG${i}`));
      expect(() => JSON.parse(readFileSync(path, 'utf8'))).not.toThrow();
    }
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('rejects a state file of another card, naming the file and the field', () => {
    const path = fresh('other');
    testCard(profile, { store: fileStore(path) });
    closeAll();
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    doc.card = '000000000000000:deadbeefdeadbeef';
    writeFileSync(path, JSON.stringify(doc));
    expect(() => testCard(profile, { store: fileStore(path) })).toThrow(
      new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: field card: this state belongs to another card`),
    );
  });

  it.each([
    ['not JSON', '{ "format": ', /not valid JSON/],
    ['another format', '{"format":"x","version":1}', /field format: expected "myna-hil\/card-state"/],
    ['a newer version', '{"format":"myna-hil/card-state","version":9}', /field version: 9 was written by a newer myna-hil/],
    ['an older version', '{"format":"myna-hil/card-state","version":0}', /field version: 0 is older/],
    [
      'a bad counter',
      '{"format":"myna-hil/card-state","version":1,"card":"c","updatedAt":"","pins":{"auth":{"value":"1234","remaining":-1}}}',
      /field pins\.auth\.remaining/,
    ],
    ['an unknown PIN', '{"format":"myna-hil/card-state","version":1,"card":"c","updatedAt":"","pins":{"nope":{"value":"1234","remaining":1}}}', /field pins/],
  ])('rejects %s with a clear message', (_what, text, re) => {
    const e = (() => {
      try {
        parseState(text, 'card.state.json');
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).toMatch(/^card\.state\.json: /);
    expect((e as Error).message).toMatch(re);
  });

  it('rejects a counter above the PIN maximum', () => {
    const path = fresh('over');
    testCard(profile, { store: fileStore(path) });
    closeAll();
    const doc = JSON.parse(readFileSync(path, 'utf8'));
    doc.pins.auth.remaining = 9;
    writeFileSync(path, JSON.stringify(doc));
    expect(() => testCard(profile, { store: fileStore(path) })).toThrow(/field pins\.auth\.remaining: 9 is above the maximum of 3/);
  });
});

describe('issuer operations', () => {
  const lockAuth = () => {
    const card = testCard(profile);
    tx(card, JPKI);
    tx(card, '00A4020C020018');
    for (let i = 0; i < 3; i++) tx(card, verifyCmd('0000'));
    expect(card.pin('auth').blocked).toBe(true);
    return card;
  };

  it('reset a counter: a locked PIN works again with its old value', () => {
    const card = lockAuth();
    resetCounter(card, 'auth');
    tx(card, JPKI);
    tx(card, '00A4020C020018');
    expect(tx(card, '00200080').swHex).toBe('63C3');
    expect(tx(card, verifyCmd(profile.pins.auth.value)).swHex).toBe('9000');
  });

  it('set a new PIN value: checked against the format, counter reset', () => {
    const card = lockAuth();
    expect(() => setPin(card, 'auth', '12345')).toThrow(/4 digits/);
    expect(() => setPin(card, 'sign', 'ABCDEF')).toThrow(/at least one letter and one digit/);
    setPin(card, 'auth', '4321');
    tx(card, JPKI);
    tx(card, '00A4020C020018');
    expect(tx(card, verifyCmd('4321')).swHex).toBe('9000');
  });

  it('a new PIN value set by the issuer ends a verification made with the old one', () => {
    const card = testCard(profile);
    tx(card, JPKI);
    tx(card, AUTH);
    expect(tx(card, verifyCmd(profile.pins.auth.value)).swHex).toBe('9000');
    setPin(card, 'auth', '5678');
    expect(card.isVerified('auth')).toBe(false);
    tx(card, '00A4020C020017');
    expect(tx(card, '802A0080 01 00 00').swHex).toBe('6982');
  });

  it("a wrong auth PIN after a right one ends the session's permission to re-initialise the sign password", () => {
    const card = testCard(profile);
    tx(card, JPKI);
    tx(card, AUTH);
    expect(tx(card, verifyCmd(profile.pins.auth.value)).swHex).toBe('9000');
    expect(tx(card, verifyCmd('0000')).swHex).toBe('63C2');
    expect(() => reinitSignPassword(card, 'NEW1PASS')).toThrow(IssuerError);
  });

  it('re-initialise the sign password only after the auth PIN was verified in the same session', () => {
    const card = testCard(profile);
    tx(card, JPKI);
    tx(card, '00A4020C02001B');
    for (let i = 0; i < 5; i++) tx(card, verifyCmd('WRONG1'));
    expect(card.pin('sign').blocked).toBe(true);
    expect(() => reinitSignPassword(card, 'FRESH12')).toThrow(IssuerError);
    tx(card, '00A4020C020018');
    expect(tx(card, verifyCmd(profile.pins.auth.value)).swHex).toBe('9000');
    tx(card, JPKI); // selecting a DF clears the verified flag, not the session
    reinitSignPassword(card, 'FRESH12');
    tx(card, '00A4020C02001B');
    expect(tx(card, verifyCmd('FRESH12')).swHex).toBe('9000');
    card.reset();
    expect(() => reinitSignPassword(card, 'AGAIN12')).toThrow(IssuerError);
  });
});
