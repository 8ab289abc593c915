/**
 * The card's rules one by one: access matrix of the 券面 APs, PIN change, signatures with the APs' own
 * keys, INTERNAL AUTHENTICATE, GET CHALLENGE / GET DATA, class and instruction errors, the MF quirks
 * and the ISD, volatile state, and the profile variants (tests/card/options.test.ts: the behaviour options).
 */
import { createHash, createPrivateKey, createPublicKey, verify, X509Certificate } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { toHex } from '../../simulator/apdu/codec.ts';
import type { VirtualCard } from '../../simulator/card/card.ts';
import { SHA256_DIGESTINFO_PREFIX } from '../../simulator/card/crypto.ts';
import { newCard, testProfile, tx, verifyCmd } from '../support/card.ts';

const SEL = {
  jpki: '00A4040C0AD392F000260100000001',
  text: '00A4040C0AD3921000310001010408',
  face: '00A4040C0AD3921000310001010402',
  juki: '00A4040C0AD3921000310001010401',
  common: '00A4040C0AD3921000310001010100',
};
const ef = (fid: string) => `00A4020C02${fid}`;
const ok = (card: VirtualCard, cmd: string) => {
  const r = tx(card, cmd);
  expect(r.swHex, cmd).toBe('9000');
  return r.data;
};
const pub = (pem: string) => createPublicKey(createPrivateKey(pem));

describe('券面 APs: which key opens which file (spec 4.4)', () => {
  let card: VirtualCard;
  beforeEach(async () => {
    card = await newCard();
  });

  const readable = (fid: string) => {
    ok(card, ef(fid));
    return tx(card, '00B0000001').swHex === '9000';
  };

  it('券面事項入力補助AP: PIN opens 1,2,3,6,7; A opens 1 (+3,6,7); B opens 2 (+3,6,7); 4 and 5 are free', async () => {
    const p = await testProfile();
    const cases: Array<[string, string | null, Record<string, boolean>]> = [
      ['none', null, { '0001': false, '0002': false, '0003': false, '0004': true, '0005': true, '0006': false, '0007': false }],
      ['0011', p.pins.kenmen.value, { '0001': true, '0002': true, '0003': true, '0006': true, '0007': true }],
      ['0014', p.holder.myNumber, { '0001': true, '0002': false, '0003': true, '0006': true, '0007': true }],
      ['0015', `550101${p.card.expiry.slice(0, 4)}${p.card.securityCode}`, { '0001': false, '0002': true, '0003': true, '0006': true, '0007': true }],
    ];
    for (const [key, value, expected] of cases) {
      ok(card, SEL.text);
      if (value) {
        ok(card, ef(key));
        ok(card, verifyCmd(value));
      }
      for (const [fid, can] of Object.entries(expected)) expect(readable(fid), `${key} → ${fid}`).toBe(can);
    }
  });

  it('券面事項確認AP: A opens 2-6, B the same without 5, the birth-date key only 1', async () => {
    const p = await testProfile();
    const b = `550101${p.card.expiry.slice(0, 4)}${p.card.securityCode}`;
    const cases: Array<[string, string, Record<string, boolean>]> = [
      ['0013', p.holder.myNumber, { '0001': false, '0002': true, '0003': true, '0004': true, '0005': true, '0006': true }],
      ['0012', b, { '0001': false, '0002': true, '0005': false, '0006': true }],
      ['0011', '550101', { '0001': true, '0002': false, '0005': false, '0006': false }],
    ];
    for (const [key, value, expected] of cases) {
      ok(card, SEL.face);
      ok(card, ef(key));
      ok(card, verifyCmd(value));
      for (const [fid, can] of Object.entries(expected)) expect(readable(fid), `${key} → ${fid}`).toBe(can);
    }
  });

  it('the blocked reference 0012 of 券面事項入力補助AP: query 63C0, VERIFY 6984', () => {
    ok(card, SEL.text);
    ok(card, ef('0012'));
    expect(tx(card, '00200080').swHex).toBe('63C0');
    expect(tx(card, verifyCmd('1234')).swHex).toBe('6984');
  });

  it('the APs sign with their own keys with P2 = 00 and no credential', async () => {
    const p = await testProfile();
    const hash = createHash('sha256').update('nonce from the server').digest();
    const di = toHex(Buffer.concat([SHA256_DIGESTINFO_PREFIX, hash]));
    ok(card, SEL.text);
    const s1 = ok(card, `802A0000 33 ${di} 00`);
    expect(verify('sha256', Buffer.from('nonce from the server'), pub(p.keys.textAp), s1)).toBe(true);
    ok(card, ef('0013'));
    expect(toHex(ok(card, `802A0080 33 ${di} 00`))).toBe(toHex(s1));
    ok(card, SEL.face);
    const s2 = ok(card, `802A0000 33 ${di} 00`);
    expect(verify('sha256', Buffer.from('nonce from the server'), pub(p.keys.faceAp), s2)).toBe(true);
    // JPKI has no own key
    ok(card, SEL.jpki);
    expect(tx(card, `802A0000 33 ${di} 00`).swHex).toBe('6A86');
  });
});

describe('PIN change', () => {
  let card: VirtualCard;
  beforeEach(async () => {
    card = await newCard();
  });

  it('CHANGE REFERENCE DATA on the auth PIN: needs VERIFY, checks the format, new value works, old fails', async () => {
    const p = await testProfile();
    ok(card, SEL.jpki);
    ok(card, ef('0018'));
    expect(tx(card, '0024018004 39393939').swHex).toBe('6982');
    ok(card, verifyCmd(p.pins.auth.value));
    expect(tx(card, '0024018003 393939').swHex).toBe('6A80');
    expect(tx(card, '002401800441424344').swHex).toBe('6A80');
    expect(tx(card, '0024008004 39393939').swHex).toBe('6A86');
    ok(card, '0024018004 39393939');
    expect(card.isVerified('auth')).toBe(true);
    ok(card, SEL.jpki);
    ok(card, ef('0018'));
    expect(tx(card, verifyCmd(p.pins.auth.value)).swHex).toBe('63C2');
    ok(card, verifyCmd('9999'));
    expect(tx(card, '00200080').swHex).toBe('63C3');
  });

  it('the sign password must be 6-16 of A-Z0-9 with a letter and a digit when set', async () => {
    const p = await testProfile();
    ok(card, SEL.jpki);
    ok(card, ef('001B'));
    ok(card, verifyCmd(p.pins.sign.value));
    for (const bad of ['ABCDEF', '123456', 'abc123', 'AB12', 'ABCDEFGHIJ1234567', 'ABC 123']) {
      expect(tx(card, `00240180${bad.length.toString(16).padStart(2, '0')}${toHex(Buffer.from(bad))}`).swHex, bad).toBe('6A80');
    }
    ok(card, `0024018008${toHex(Buffer.from('NEWPASS9'))}`);
    expect(card.pin('sign').remaining).toBe(5);
  });

  it('住基 PIN changes with CHANGE KEY 80 32, not with 00 24; the common AP PIN is a separate reference', async () => {
    const p = await testProfile();
    ok(card, SEL.juki);
    ok(card, ef('001C'));
    ok(card, verifyCmd(p.pins.juki.value));
    expect(tx(card, '0024018004 35353535').swHex).toBe('6985');
    ok(card, '8032008004 35353535');
    ok(card, SEL.common);
    ok(card, ef('001C'));
    expect(tx(card, verifyCmd('5555')).swHex).toBe(p.pins.common.value === '5555' ? '9000' : '63C2');
    expect(card.pin('juki').remaining).toBe(3);
  });

  it('the kenmen PIN changes with 00 24 in 券面事項入力補助AP; 照合番号A cannot be changed', async () => {
    const p = await testProfile();
    ok(card, SEL.text);
    ok(card, ef('0011'));
    ok(card, verifyCmd(p.pins.kenmen.value));
    ok(card, '0024018004 31313131');
    ok(card, ef('0014'));
    ok(card, verifyCmd(p.holder.myNumber));
    expect(tx(card, '002401800C 313131313131313131313131').swHex).toBe('6985');
  });
});

describe('other commands', () => {
  let card: VirtualCard;
  beforeEach(async () => {
    card = await newCard();
  });

  it('INTERNAL AUTHENTICATE: the common AP key 0019 signs the challenge; other keys refuse', async () => {
    const p = await testProfile();
    ok(card, SEL.common);
    const challenge = Buffer.from('0123456789ABCDEF', 'hex');
    const sig = ok(card, `00880099 08 ${toHex(challenge)} 00`);
    expect(verify('sha256', challenge, pub(p.keys.common), sig)).toBe(true);
    ok(card, ef('0019'));
    expect(verify('sha256', challenge, pub(p.keys.common), ok(card, `00880080 08 ${toHex(challenge)} 00`))).toBe(true);
    ok(card, SEL.jpki);
    ok(card, ef('0017'));
    expect(tx(card, `00880080 08 ${toHex(challenge)} 00`).swHex).toBe('6982');
    ok(card, SEL.text);
    ok(card, ef('0013'));
    expect(tx(card, `00880080 08 ${toHex(challenge)} 00`).swHex).toBe('6985');
    ok(card, SEL.common);
    ok(card, ef('0019'));
    expect(tx(card, `802A0080 08 ${toHex(challenge)} 00`).swHex).toBe('6985');
  });

  it('GET CHALLENGE answers 1-256 random bytes in any state; the extended form 6985', () => {
    expect(ok(card, '0084000008').length).toBe(8);
    expect(ok(card, '0084000000').length).toBe(256);
    ok(card, SEL.jpki);
    const a = ok(card, '008400000A');
    const b = ok(card, '008400000A');
    expect(a.length).toBe(10);
    expect(toHex(a)).not.toBe(toHex(b));
    expect(tx(card, '0084000000000A').swHex).toBe('6985');
    expect(tx(card, '00840000').swHex).toBe('6700');
  });

  it('READ RECORD: the common AP record 1 by SFI without SELECT, as jpki/myna reads it', async () => {
    const p = await testProfile();
    ok(card, SEL.common);
    const rec = ok(card, '00B2010C00');
    expect(toHex(rec.subarray(0, 2))).toBe('011C');
    expect(Buffer.from(rec.subarray(2)).toString('latin1')).toBe(`${p.card.serial}${p.card.municipalityCode}${p.card.expiry.replaceAll('-', '')}`);
    expect(tx(card, '00B2020C00').swHex).toBe('6A83');
    expect(tx(card, '00B2010D00').swHex).toBe('6A81');
    ok(card, ef('0019'));
    expect(tx(card, '00B2010400').swHex).toBe('6981');
  });

  it('GET DATA answers at MF level and 5F51 (the ATR without 3B) anywhere', () => {
    const atr = card.atr();
    card.powerUp();
    expect(toHex(ok(card, '00CA5F5100'))).toBe(toHex(atr.subarray(1)));
    expect(tx(card, '00CA012300').swHex).toBe('6A88');
    ok(card, SEL.jpki);
    expect(toHex(ok(card, '00CA5F5100'))).toBe(toHex(atr.subarray(1)));
    expect(tx(card, '00CA00F000').swHex).toBe('6A88');
    ok(card, '00A4040C07A0000001510000');
    expect(ok(card, '00CA00F000').length).toBe(5);
  });

  it('class and instruction errors: 6E00, 6D00, 6881, 6882, 69FC, 6884', () => {
    expect(tx(card, 'A0A4040C0AD392F000260100000001').swHex).toBe('6E00');
    expect(tx(card, '00EE0000').swHex).toBe('6D00');
    expect(tx(card, '80A4040C0AD392F000260100000001').swHex).toBe('6E00');
    expect(tx(card, '01A4040C0AD392F000260100000001').swHex).toBe('6881');
    expect(tx(card, '0CA4040C0AD392F000260100000001').swHex).toBe('6882');
    expect(tx(card, '0CB0000004').swHex).toBe('69FC');
    expect(tx(card, '10A4040C0AD392F000260100000001').swHex).toBe('6884');
    expect(tx(card, '80FC0000').swHex).toBe('6700');
  });

  it('CLA 40-7F (logical channels 4-19) answer 68 81', () => {
    for (const cla of ['40', '4F', '60', '7F']) expect(tx(card, `${cla}A4040C0AD392F000260100000001`).swHex).toBe('6881');
  });

  // docs/card.md §1 [1]
  it('selecting the ISD restores the MF state with its files', () => {
    tx(card, SEL.jpki);
    expect(tx(card, '00A4040C07A0000001510000').swHex).toBe('9000');
    expect(tx(card, '00A4020C02001E').swHex).toBe('9000');
    expect(tx(card, '00B0000001').swHex).toBe('6981');
  });

  it('the MF quirks: 00 A4 00 00 is 6A86 after reset and 90 00 inside an AP; 3F00 is not found; 001E is unreadable', () => {
    card.reset();
    expect(tx(card, '00A40000').swHex).toBe('6A86');
    expect(tx(card, '00A4000C023F00').swHex).toBe('6A82');
    ok(card, '00A4000C02001E');
    expect(tx(card, '00B0000001').swHex).toBe('6981');
    expect(tx(card, ef('2F10')).swHex).toBe('6A82');
    ok(card, SEL.jpki);
    ok(card, '00A40000');
    expect(card.selectedApplication).toBe('jpki');
  });

  it('commands that need an EF answer 6986 before any SELECT EF, 6981 on the wrong kind of EF', () => {
    ok(card, SEL.jpki);
    expect(tx(card, '00B0000001').swHex).toBe('6986');
    expect(tx(card, '00200080').swHex).toBe('6986');
    ok(card, ef('0018'));
    expect(tx(card, '00B0000001').swHex).toBe('6981');
    ok(card, ef('000A'));
    expect(tx(card, '00200080').swHex).toBe('6981');
    expect(tx(card, '00200080 11 3132333435363738393031323334353637').swHex).toBe('6981');
    ok(card, ef('0018'));
    expect(tx(card, '00200080 11 3132333435363738393031323334353637').swHex).toBe('6700');
    expect(card.pin('auth').remaining).toBe(3);
  });
});

describe('volatile state', () => {
  let card: VirtualCard;
  beforeEach(async () => {
    card = await newCard();
  });

  const verifyAuth = async () => {
    const p = await testProfile();
    ok(card, SEL.jpki);
    ok(card, ef('0018'));
    ok(card, verifyCmd(p.pins.auth.value));
    expect(card.isVerified('auth')).toBe(true);
  };

  it.each(['powerDown', 'reset', 'select'] as const)('%s clears the verified flags but keeps the counters', async (how) => {
    ok(card, SEL.jpki);
    ok(card, ef('001B'));
    expect(tx(card, verifyCmd('WRONG1')).swHex).toBe('63C4');
    await verifyAuth();
    if (how === 'select') ok(card, SEL.jpki);
    else card[how]();
    expect(card.isVerified('auth')).toBe(false);
    expect(card.pin('sign').remaining).toBe(4);
    ok(card, SEL.jpki);
    ok(card, ef('0017'));
    expect(tx(card, '802A0080 01 00 00').swHex).toBe('6982');
  });

  it('selecting an unknown AID fails and changes nothing', async () => {
    await verifyAuth();
    expect(tx(card, '00A4040C05A000000001').swHex).toBe('6A82');
    expect(card.isVerified('auth')).toBe(true);
    expect(card.selectedApplication).toBe('jpki');
  });
});

describe('variants', () => {
  it('minor: no signature certificate or key; 0008 says so; the sign password still answers 63 Cx for OpenSC', async () => {
    const card = await newCard('minor');
    ok(card, SEL.jpki);
    expect(tx(card, ef('0001')).swHex).toBe('6A82');
    expect(tx(card, ef('001A')).swHex).toBe('6A82');
    ok(card, ef('0008'));
    expect(toHex(ok(card, '00B0000003'))).toBe('008F00');
    ok(card, ef('001B'));
    expect(tx(card, '00200080').swHex).toBe('63C5');
  });

  it('face-authentication-only card: the auth PIN is locked, no signature certificate', async () => {
    const card = await newCard('face-auth-only');
    ok(card, SEL.jpki);
    ok(card, ef('0018'));
    expect(tx(card, '00200080').swHex).toBe('63C0');
    expect(tx(card, verifyCmd('1234')).swHex).toBe('6984');
    expect(tx(card, ef('0001')).swHex).toBe('6A82');
    ok(card, ef('000A'));
    ok(card, '00B0000004');
  });

  it('smartphone JPKI token: label JPKIAPGPSETOKEN, the auth certificate needs the auth PIN', async () => {
    const p = await testProfile('smartphone');
    const card = await newCard('smartphone');
    ok(card, SEL.jpki);
    ok(card, ef('0006'));
    expect(Buffer.from(ok(card, '00B0000020')).toString('latin1')).toBe('JPKIAPGPSETOKEN'.padEnd(32, ' '));
    ok(card, ef('000A'));
    expect(tx(card, '00B0000004').swHex).toBe('6982');
    ok(card, ef('0018'));
    ok(card, verifyCmd(p.pins.auth.value));
    ok(card, ef('000A'));
    expect(toHex(ok(card, '00B0000002'))).toBe('3082');
  });

  it('expired: the certificates are no longer valid but still served', async () => {
    const p = await testProfile('expired');
    const cert = new X509Certificate(p.certificates.auth);
    expect(new Date(cert.validTo).getTime()).toBeLessThan(Date.now());
    const card = await newCard('expired');
    ok(card, SEL.jpki);
    ok(card, ef('000A'));
    ok(card, '00B0000004');
  });

  it('locked: the chosen PIN is locked from the start, the others are not', async () => {
    const p = await testProfile('locked');
    const locked = (['sign', 'auth', 'juki', 'kenmen'] as const).filter((id) => p.pins[id].remaining === 0);
    expect(locked.length).toBe(1);
    const card = await newCard('locked');
    for (const id of ['sign', 'auth', 'juki', 'kenmen'] as const) expect(card.pin(id).blocked).toBe(locked.includes(id));
  });

  // docs/card.md §4.2 [T]
  it('locked: the blocked key answers 69 84 to any VERIFY with data, even one too long to be a PIN', async () => {
    const card = await newCard('locked');
    tx(card, SEL.jpki);
    tx(card, ef('0018'));
    expect(tx(card, `0020008011${'31'.repeat(17)}`).swHex).toBe('6984');
    expect(tx(card, '00200080').swHex).toBe('63C0');
  });
});
