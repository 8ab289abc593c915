/**
 * The profile's behaviour options (simulator/profile/schema.ts Behaviour): what each one changes,
 * what it leaves alone, and the facts no option may change. Options cover the [U] behaviours of
 * docs/card.md, where sources disagree or say nothing.
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { issuerDigestInfos, verifyDigestInfo } from '../../simulator/profile/files.ts';
import { parseProfile } from '../../simulator/profile/io.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { testCard, testProfile, tx, verifyCmd } from '../support/card.ts';

const JPKI = '00A4040C0AD392F000260100000001';
const TEXT = '00A4040C0AD3921000310001010408';
const FACE = '00A4040C0AD3921000310001010402';
const COMMON = '00A4040C0AD3921000310001010100';

/** A copy of the test profile that a test may change. */
const editableProfile = async (): Promise<Profile> => structuredClone(await testProfile());

describe('facts no behaviour option changes', () => {
  // docs/card.md §3.2 [T]: the filler of this EF is fixed by the signed hash over it
  it('EF 0001 of 券面入力補助AP ends FF FF whatever behaviour.filler says, and its signed hash holds', async () => {
    const p = await editableProfile();
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

  // docs/card.md §3.5, §6 [T]: clients use these forms, so they cannot be optional
  it('sfiShortForms: false turns off only the optional short forms, not INTERNAL AUTHENTICATE, READ RECORD or 80 2A by SFI', async () => {
    const p = await editableProfile();
    p.behaviour.sfiShortForms = false;
    const card = testCard(p);
    tx(card, COMMON);
    expect(tx(card, '0088009904AABBCCDD00').swHex).toBe('9000');
    expect(tx(card, '00B2010C00').swHex).toBe('9000');
    tx(card, JPKI);
    expect(tx(card, '00200098').swHex).toBe('6A86'); // VERIFY by SFI: the optional form
    expect(tx(card, '00B0860004').swHex).toBe('6A86'); // READ BINARY by SFI: optional too
  });

  it('status word options must be error status words', async () => {
    const p = await editableProfile();
    (p.behaviour as { unknownAidSw: string }).unknownAidSw = '9000';
    expect(() => parseProfile(JSON.stringify(p), 'card.json')).toThrow(/field behaviour\.unknownAidSw: must be an error status word/);
    (p.behaviour as { unknownAidSw: string }).unknownAidSw = '63C0';
    expect(() => parseProfile(JSON.stringify(p), 'card.json')).toThrow(/must not be 61xx or 63xx/);
  });
});

describe('what each behaviour option changes', () => {
  it('verifyWrongLengthSw: absent, a 3-digit auth PIN is a wrong try (docs/card.md §9.4); set, it is refused and no try is spent', async () => {
    const p = await editableProfile();
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
    const p = await editableProfile();
    expect(tx(testCard(p), '00A404000AD392F000260100000001').swHex).toBe('9000');
    p.behaviour.selectFciSw = '6A86';
    const card = testCard(p);
    expect(tx(card, '00A404000AD392F000260100000001').swHex).toBe('6A86');
    expect(tx(card, JPKI).swHex).toBe('9000');
  });

  it('allowAidPrefix: a prefix of an AID selects it only when the option is on', async () => {
    const p = await editableProfile();
    expect(tx(testCard(p), '00A4040C08D392F00026010000').swHex).toBe('6A82');
    p.behaviour.allowAidPrefix = true;
    const card = testCard(p);
    expect(tx(card, '00A4040C08D392F00026010000').swHex).toBe('9000');
    expect(card.selectedApplication).toBe('jpki');
    expect(tx(card, '00A4040C0BD392F00026010000000199').swHex).toBe('6A82'); // longer than the AID
  });

  it('maxTries of each verification key can be set on its own', async () => {
    const p = await editableProfile();
    p.behaviour.maxTries.faceA = 10;
    p.behaviour.maxTries.textB = 5;
    const card = testCard(p);
    expect([card.pin('faceA').remaining, card.pin('textA').remaining, card.pin('textB').remaining, card.pin('faceB').remaining]).toEqual([10, 3, 5, 3]);
    tx(card, FACE);
    tx(card, '00A4020C020013');
    expect(tx(card, '00200080').swHex).toBe('63CA');
  });

  it('certificatePadding: padded certificate EFs still read whole the OpenSC way, and past the DER hold the filler', async () => {
    const p = await editableProfile();
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
