/**
 * Behaviours found by a review against the spec: each test names the spec fact it holds the card to.
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IssuerError, reinitSignPassword, setPin } from '../../simulator/issuer/issuer.ts';
import { issuerDigestInfos, verifyDigestInfo } from '../../simulator/profile/files.ts';
import { parseProfile } from '../../simulator/profile/io.ts';
import { myNumberCheckDigit, type Profile } from '../../simulator/profile/schema.ts';
import { FileStore } from '../../simulator/state/store.ts';
import { testCard, testProfile, tx, verifyCmd } from '../support/card.ts';

const JPKI = '00A4040C0AD392F000260100000001';
const TEXT = '00A4040C0AD3921000310001010408';
const FACE = '00A4040C0AD3921000310001010402';
const COMMON = '00A4040C0AD3921000310001010100';

describe('facts the behaviour options must not change', () => {
  it('EF 0001 of 券面入力補助AP ends FF FF whatever behaviour.filler says, and its signed hash holds (3.2 [T])', async () => {
    const p: Profile = structuredClone(await testProfile());
    p.behaviour.filler = 0x00;
    const card = testCard(p);
    tx(card, TEXT);
    tx(card, '00A4020C020011');
    expect(tx(card, verifyCmd(p.pins.kenmen.value)).swHex).toBe('9000');
    tx(card, '00A4020C020001');
    expect(Buffer.from(tx(card, '00B0000011').data).toString('hex').toUpperCase()).toMatch(/FFFF$/);
    const issuer = createPublicKey(p.issuer.key);
    expect(verifyDigestInfo(issuer, issuerDigestInfos(p).textIntegrity, Buffer.from(p.issuer.signatures.textIntegrity, 'hex'))).toBe(true);
  });

  it('sfiShortForms: false turns off only the optional short forms, not INTERNAL AUTHENTICATE, READ RECORD or 80 2A by SFI (3.5, 6 [T])', async () => {
    const p: Profile = structuredClone(await testProfile());
    p.behaviour.sfiShortForms = false;
    const card = testCard(p);
    tx(card, COMMON);
    expect(tx(card, '0088009904AABBCCDD00').swHex).toBe('9000');
    expect(tx(card, '00B2010C00').swHex).toBe('9000');
    tx(card, JPKI);
    expect(tx(card, '00200098').swHex).toBe('6A86'); // VERIFY by SFI: the optional form
    expect(tx(card, '00B0860004').swHex).toBe('6A86'); // READ BINARY by SFI: optional too
  });

  it('a blocked key answers 69 84 to any VERIFY with data, even one too long to be a PIN (4.2 [T])', async () => {
    const card = testCard(await testProfile('locked'));
    tx(card, JPKI);
    tx(card, '00A4020C020018');
    expect(tx(card, `0020008011${'31'.repeat(17)}`).swHex).toBe('6984');
    expect(tx(card, '00200080').swHex).toBe('63C0');
  });

  it('selecting the ISD restores the MF state with its files (1 [1])', async () => {
    const card = testCard(await testProfile());
    tx(card, JPKI);
    expect(tx(card, '00A4040C07A0000001510000').swHex).toBe('9000');
    expect(tx(card, '00A4020C02001E').swHex).toBe('9000');
    expect(tx(card, '00B0000001').swHex).toBe('6981');
  });

  it('CLA 40-7F (logical channels 4-19) answer 68 81', async () => {
    const card = testCard(await testProfile());
    for (const cla of ['40', '4F', '60', '7F']) expect(tx(card, `${cla}A4040C0AD392F000260100000001`).swHex).toBe('6881');
  });

  it('status word options must be error status words', async () => {
    const p: Profile = structuredClone(await testProfile());
    (p.behaviour as { unknownAidSw: string }).unknownAidSw = '9000';
    expect(() => parseProfile(JSON.stringify(p), 'card.json')).toThrow(/field behaviour\.unknownAidSw: must be an error status word/);
    (p.behaviour as { unknownAidSw: string }).unknownAidSw = '63C0';
    expect(() => parseProfile(JSON.stringify(p), 'card.json')).toThrow(/must not be 61xx or 63xx/);
  });
});

describe('state and issuer', () => {
  it('照合番号A/B follow the profile\'s holder data; a state file keeps only their counters', async () => {
    const base = await testProfile();
    const path = join(mkdtempSync(join(tmpdir(), 'myna-hil-review-')), 'state.json');
    const storeA = new FileStore(path);
    const a = testCard(base, { store: storeA });
    tx(a, FACE);
    tx(a, '00A4020C020013');
    expect(tx(a, verifyCmd('000000000000')).swHex).toBe('63C2');
    const edited: Profile = structuredClone(base);
    const first11 = '98765432109';
    edited.holder.myNumber = first11 + myNumberCheckDigit(first11);
    storeA.close(); // the state file is one holder's at a time
    const b = testCard(edited, { store: new FileStore(path) });
    tx(b, FACE);
    tx(b, '00A4020C020013');
    expect(tx(b, '00200080').swHex).toBe('63C2'); // the spent try survived
    expect(tx(b, verifyCmd(base.holder.myNumber)).swHex).toBe('63C1'); // the old number no longer opens it
    expect(tx(b, verifyCmd(edited.holder.myNumber)).swHex).toBe('9000');
    expect(JSON.parse(readFileSync(path, 'utf8')).pins.faceA.remaining).toBe(3);
  });

  it('a new PIN value set by the issuer ends a verification made with the old one', async () => {
    const p = await testProfile();
    const card = testCard(p);
    tx(card, JPKI);
    tx(card, '00A4020C020018');
    expect(tx(card, verifyCmd(p.pins.auth.value)).swHex).toBe('9000');
    setPin(card, 'auth', '5678');
    expect(card.isVerified('auth')).toBe(false);
    tx(card, '00A4020C020017');
    expect(tx(card, '802A0080 01 00 00').swHex).toBe('6982');
  });

  it('a wrong auth PIN after a right one ends the session\'s permission to re-initialise the sign password', async () => {
    const p = await testProfile();
    const card = testCard(p);
    tx(card, JPKI);
    tx(card, '00A4020C020018');
    expect(tx(card, verifyCmd(p.pins.auth.value)).swHex).toBe('9000');
    expect(tx(card, verifyCmd('0000')).swHex).toBe('63C2');
    expect(() => reinitSignPassword(card, 'NEW1PASS')).toThrow(IssuerError);
  });
});

describe('[U] behaviours as options', () => {
  it('verifyWrongLengthSw: absent, a 3-digit auth PIN is a wrong try (9.4); set, it is refused and no try is spent', async () => {
    const p: Profile = structuredClone(await testProfile());
    const plain = testCard(p);
    tx(plain, JPKI);
    tx(plain, '00A4020C020018');
    expect(tx(plain, verifyCmd('123')).swHex).toBe('63C2');
    p.behaviour.verifyWrongLengthSw = '6700';
    const strict = testCard(p);
    tx(strict, JPKI);
    tx(strict, '00A4020C020018');
    expect(tx(strict, verifyCmd('123')).swHex).toBe('6700');
    tx(strict, '00A4020C02001B');
    expect(tx(strict, verifyCmd('ABC12')).swHex).toBe('6700'); // 5 characters: no sign password has that
    expect(tx(strict, verifyCmd('WRONG12')).swHex).toBe('63C4'); // a possible length is compared
    tx(strict, FACE);
    tx(strict, '00A4020C020013');
    expect(tx(strict, verifyCmd('1234')).swHex).toBe('6700'); // 照合番号A has 12 digits
    expect(strict.pin('auth').remaining).toBe(3);
    expect(strict.pin('faceA').remaining).toBe(3);
  });

  it('selectFciSw: absent, P2 00 is answered like 0C; set, it is refused', async () => {
    const p: Profile = structuredClone(await testProfile());
    expect(tx(testCard(p), '00A404000AD392F000260100000001').swHex).toBe('9000');
    p.behaviour.selectFciSw = '6A86';
    const card = testCard(p);
    expect(tx(card, '00A404000AD392F000260100000001').swHex).toBe('6A86');
    expect(tx(card, JPKI).swHex).toBe('9000');
  });

  it('allowAidPrefix: a prefix of an AID selects it only when the option is on', async () => {
    const p: Profile = structuredClone(await testProfile());
    expect(tx(testCard(p), '00A4040C08D392F00026010000').swHex).toBe('6A82');
    p.behaviour.allowAidPrefix = true;
    const card = testCard(p);
    expect(tx(card, '00A4040C08D392F00026010000').swHex).toBe('9000');
    expect(card.selectedApplication).toBe('jpki');
    expect(tx(card, '00A4040C0BD392F00026010000000199').swHex).toBe('6A82'); // longer than the AID
  });

  it('maxTries of each verification key can be set on its own', async () => {
    const p: Profile = structuredClone(await testProfile());
    p.behaviour.maxTries.faceA = 10;
    p.behaviour.maxTries.textB = 5;
    const card = testCard(p);
    expect([card.pin('faceA').remaining, card.pin('textA').remaining, card.pin('textB').remaining, card.pin('faceB').remaining]).toEqual([10, 3, 5, 3]);
    tx(card, FACE);
    tx(card, '00A4020C020013');
    expect(tx(card, '00200080').swHex).toBe('63CA');
  });
});

describe('faults', () => {
  it('a state file that cannot be written is answered 65 81 and reported through onFault, never thrown', async () => {
    const p = await testProfile();
    const failing = { location: '(test)', load: () => undefined, save: () => {} } as unknown as FileStore;
    const card = testCard(p, { store: failing });
    failing.save = () => {
      throw new Error('disk full');
    };
    const faults: unknown[] = [];
    card.onFault = (e) => faults.push(e);
    tx(card, JPKI);
    tx(card, '00A4020C020018');
    expect(tx(card, verifyCmd('0000')).swHex).toBe('6581');
    expect(faults.map((e) => (e as Error).message)).toEqual(['the card state could not be saved, nothing was changed: disk full']);
  });
});

describe('certificate EF padding [U]', () => {
  it('padded certificate EFs still read whole the OpenSC way, and past the DER hold the filler', async () => {
    const p: Profile = structuredClone(await testProfile());
    p.behaviour.certificatePadding = { bytes: 300, byte: 0x00 };
    const card = testCard(p);
    tx(card, JPKI);
    tx(card, '00A4020C02000A');
    const head = tx(card, '00B0000004').data;
    const size = ((head[2] << 8) | head[3]) + 4;
    const whole = tx(card, `00B00000 00 ${size.toString(16).padStart(4, '0')}`);
    expect(whole.swHex).toBe('9000');
    expect(new X509Certificate(whole.data).raw.length).toBe(size);
    const past = tx(card, `00B0${size.toString(16).padStart(4, '0')}00`);
    expect(past.swHex).toBe('9000');
    expect(past.data.length).toBe(256);
    expect(past.data.every((b) => b === 0)).toBe(true);
    expect(tx(card, `00B0${(size + 300).toString(16).padStart(4, '0')}01`).swHex).toBe('6B00');
  });
});
