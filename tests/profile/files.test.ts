/**
 * deriveFiles: the card's EFs byte for byte against the spec's examples and layouts
 * (docs/card.md §3, §4.4, §8), parsed back independently: with the client's TLV reader and key
 * decoding (harness/flows), never with the simulator's own tlv.ts, so a writer bug cannot be read
 * back "correctly" by the same mistake.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { deriveFiles, tokenInfo, textBasic4, textMyNumberFile } from '../../simulator/profile/files.ts';
import { eraYymmdd } from '../../simulator/profile/era.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { readAll, readTlv } from '../../harness/flows/tlv.ts';
import { publicKeyFromCard } from '../../harness/flows/card-ref.ts';
import { PHOTO_JP2_BASE64 } from '../../simulator/profile/fixtures/photo.ts';
import { clone, fromHex, hex, profileOf } from './support.ts';

const sha256 = (u: Uint8Array) => new Uint8Array(createHash('sha256').update(u).digest());
/** The public half of a PEM key as a JWK, to compare with a key decoded from a card file. */
const jwkOf = (pem: string) => createPublicKey(pem).export({ format: 'jwk' });

let base: Profile;
beforeAll(async () => {
  base = await profileOf('adult');
});

const withHolder = (h: Partial<Profile['holder']>, c: Partial<Profile['card']> = {}): Profile => {
  const p = clone(base);
  Object.assign(p.holder, h);
  Object.assign(p.card, c);
  return p;
};

describe('券面事項入力補助AP', () => {
  it('EF 0002 equals the docs/card.md §3.2.1 example (89 bytes) for its holder', () => {
    const p = withHolder({ name: '山田　太郎', address: '東京都千代田区千代田１－１', birthDate: '1980-01-01', sex: '1' });
    const spec = fromHex(`FF 20 56 DF 21 08 00 0E 00 20 00 4A 00 55
      DF 22 0F E5 B1 B1 E7 94 B0 E3 80 80 E5 A4 AA E9 83 8E
      DF 23 27 E6 9D B1 E4 BA AC E9 83 BD E5 8D 83 E4 BB A3 E7 94 B0 E5 8C BA
               E5 8D 83 E4 BB A3 E7 94 B0 EF BC 91 EF BC 8D EF BC 91
      DF 24 08 31 39 38 30 30 31 30 31
      DF 25 01 31`);
    expect(spec.length).toBe(89);
    expect(hex(textBasic4(p))).toBe(hex(spec));
    expect(hex(deriveFiles(p).text.get(2)!)).toBe(hex(spec));
  });

  it('EF 0002 offsets point at DF22..DF25 also when lengths need the long form', () => {
    const p = withHolder({ address: '北海道'.repeat(40) }); // 360 bytes of UTF-8
    const f = textBasic4(p);
    const outer = readTlv(f);
    expect(hex(f.subarray(0, 2))).toBe('FF20');
    const objects = readAll(f, outer.headerLength);
    expect(objects.map((o) => o.tag)).toEqual([0xdf21, 0xdf22, 0xdf23, 0xdf24, 0xdf25]);
    const table = objects[0].value;
    for (const [i, o] of objects.slice(1).entries()) expect((table[2 * i] << 8) | table[2 * i + 1]).toBe(o.offset);
    expect(Buffer.from(objects[2].value).toString('utf8')).toBe(p.holder.address);
  });

  it('EF 0001 equals the spec example: FF 10 0C + 12 digits + FF FF (17 bytes)', () => {
    const p = withHolder({ myNumber: '123456789018' });
    expect(hex(textMyNumberFile(p))).toBe('FF100C313233343536373839303138FFFF');
    // FF FF is a fact of real cards [T]: behaviour.filler (0005's padding) does not change it
    p.behaviour.filler = 0x00;
    expect(hex(textMyNumberFile(p)).slice(-4)).toBe('FFFF');
    const ef5 = deriveFiles(p).text.get(5)!;
    expect(ef5.length).toBe(256);
    expect(ef5[ef5.length - 1]).toBe(0x00);
  });

  it('EF 0003 integrity record: DF31 = SHA-256 of EF 0001 as stored, DF32 = SHA-256 of EF 0002 value minus DF21', () => {
    const f = deriveFiles(base).text;
    const rec = f.get(3)!;
    expect(rec.length).toBe(336);
    expect(hex(rec.subarray(0, 5))).toBe('FF3082014B');
    const [df31, df32, df33] = readAll(rec, 5);
    expect([df31.tag, df32.tag, df33.tag]).toEqual([0xdf31, 0xdf32, 0xdf33]);
    expect(hex(df31.value)).toBe(hex(sha256(f.get(1)!)));
    const basic4 = f.get(2)!;
    const outer = readTlv(basic4);
    const table = readTlv(basic4, outer.headerLength);
    expect(table.tag).toBe(0xdf21);
    expect(hex(df32.value)).toBe(hex(sha256(basic4.subarray(outer.headerLength + table.raw.length, outer.raw.length))));
    expect(hex(rec.subarray(df33.offset, df33.offset + 5))).toBe('DF33820100');
  });

  it('EF 0004 CVC: 7F 21 82 02 33 / 5F 4E 82 01 29 root id, issuer id, 90 03 01 00 01, 91 82 01 00 / 5F 37 82 01 00', () => {
    const cvc = deriveFiles(base).text.get(4)!;
    expect(cvc.length).toBe(568);
    expect(hex(cvc.subarray(0, 10))).toBe('7F218202335F4E820129');
    expect(hex(cvc.subarray(10, 26))).toBe(base.issuer.rootKeyId.toUpperCase());
    expect(hex(cvc.subarray(26, 42))).toBe(base.issuer.keyId.toUpperCase());
    expect(hex(cvc.subarray(42, 51))).toBe('900301000191820100');
    expect(hex(cvc.subarray(307, 312))).toBe('5F37820100');
    expect(publicKeyFromCard(cvc.subarray(42, 307)).export({ format: 'jwk' })).toEqual(jwkOf(base.issuer.key));
  });

  it('EF 0005 AP basic info: FF 40 82 00 9F (as on a card), DF41 01 03 0E 01, DF42 key id, DF43 32 bytes + 96 FF, filler to the configured size', () => {
    const f = deriveFiles(base).text.get(5)!;
    expect(f.length).toBe(base.behaviour.textApBasicInfoSize);
    expect(hex(f.subarray(0, 5))).toBe('FF4082009F');
    const [df41, df42, df43] = readAll(f.subarray(0, 5 + 0x9f), 5);
    expect(hex(df41.raw)).toBe('DF410401030E01');
    expect(df42.value.length).toBe(16);
    expect(df43.value.length).toBe(128);
    expect(df43.value.subarray(32).every((b) => b === 0xff)).toBe(true);
    expect(f.subarray(5 + 0x9f).every((b) => b === base.behaviour.filler)).toBe(true);
  });

  it('EF 0006 is A1 around the AP key, EF 0007 is FF 50 82 02 13 with DF51 82 01 09 and DF52, EF 0008 16 x FF', () => {
    const f = deriveFiles(base).text;
    expect(hex(f.get(6)!.subarray(0, 9))).toBe('A1820109' + '9003010001');
    expect(hex(f.get(7)!.subarray(0, 10))).toBe('FF50820213DF51820109');
    // both carry the public half of the AP's own key 0013 (the 0006 choice is the simulator's, see files.ts)
    expect(publicKeyFromCard(readTlv(f.get(6)!).value).export({ format: 'jwk' })).toEqual(jwkOf(base.keys.textAp));
    expect(publicKeyFromCard(readTlv(f.get(7)!, 5).value).export({ format: 'jwk' })).toEqual(jwkOf(base.keys.textAp));
    expect(hex(f.get(8)!)).toBe('FF'.repeat(16));
  });
});

describe('券面事項確認AP', () => {
  let face: Map<number, Uint8Array>;
  beforeAll(() => {
    face = deriveFiles(base).face;
  });

  it('EF 0001 age record: FF 10 82 02 1E, DF11 birth, DF12 82 01 09 key, DF13 82 01 00 signature', () => {
    const f = face.get(1)!;
    expect(hex(f.subarray(0, 5))).toBe('FF1082021E');
    const [df11, df12, df13] = readAll(f, 5);
    expect(Buffer.from(df11.value).toString()).toBe(base.holder.birthDate.replaceAll('-', ''));
    expect(hex(f.subarray(df12.offset, df12.offset + 5))).toBe('DF12820109');
    expect(publicKeyFromCard(df12.value).export({ format: 'jwk' })).toEqual(jwkOf(base.keys.faceAp));
    expect(df13.value.length).toBe(256);
  });

  it('EF 0002 card face: DF21 offsets of DF22..DF2A, images, photo, expiry after the signature', () => {
    const f = face.get(2)!;
    const outer = readTlv(f);
    expect(hex(f.subarray(0, 3))).toBe('FF2082');
    expect(outer.raw.length).toBe(f.length);
    const objects = readAll(f, outer.headerLength);
    expect(objects.map((o) => o.tag.toString(16).toUpperCase())).toEqual(['DF21', 'DF22', 'DF23', 'DF24', 'DF25', 'DF26', 'DF27', 'DF28', 'DF29', 'DF2A']);
    const table = objects[0].value;
    expect(table.length).toBe(18);
    for (const [i, o] of objects.slice(1).entries()) expect((table[2 * i] << 8) | table[2 * i + 1]).toBe(o.offset);
    const v = (tag: number) => objects.find((o) => o.tag === tag)!.value;
    expect(Buffer.from(v(0xdf22)).toString()).toBe(base.holder.birthDate.replaceAll('-', ''));
    expect(Buffer.from(v(0xdf23)).toString()).toBe(base.holder.sex);
    expect(hex(v(0xdf27))).toBe(hex(new Uint8Array(Buffer.from(base.photoJp2, 'base64'))));
    expect(v(0xdf28).length).toBe(256);
    expect(Buffer.from(v(0xdf29)).toString()).toBe(base.card.expiry.replaceAll('-', ''));
  });

  it('EF 0003 AP basic: DF31 06 03 0E 01, DF32 key id, DF33 version, DF34 municipality, DF35 id + 256 bytes', () => {
    const f = face.get(3)!;
    const objects = readAll(f, readTlv(f).headerLength);
    expect(objects.map((o) => o.tag)).toEqual([0xdf31, 0xdf32, 0xdf33, 0xdf34, 0xdf35]);
    expect(hex(objects[0].value)).toBe('06030E01');
    expect(objects[1].value.length).toBe(16);
    expect(objects[2].value.length).toBe(1);
    expect(Buffer.from(objects[3].value).toString()).toBe(base.card.municipalityCode);
    expect(objects[4].value.length).toBe(16 + 256);
  });

  it('EF 0004 is the same CVC as the text AP; EF 0005 FF 40 holds DF41 PNG, DF42 key, DF43 signature; EF 0006 16 x FF', () => {
    const text = deriveFiles(base).text;
    expect(hex(face.get(4)!)).toBe(hex(text.get(4)!));
    const f = face.get(5)!;
    expect(readAll(f, readTlv(f).headerLength).map((o) => o.tag)).toEqual([0xdf41, 0xdf42, 0xdf43]);
    expect(hex(face.get(6)!)).toBe('FF'.repeat(16));
  });

  it('images are valid 1-bit greyscale PNGs: name, address, My Number 72x12, security code 24x12', () => {
    const f2 = face.get(2)!;
    const objects = readAll(f2, readTlv(f2).headerLength);
    const img = (tag: number) => objects.find((o) => o.tag === tag)!.value;
    const f5 = face.get(5)!;
    const myNumber = readAll(f5, readTlv(f5).headerLength)[0].value;
    const expectSizes: Array<[Uint8Array, number | undefined, number]> = [
      [img(0xdf25), undefined, 12],
      [img(0xdf26), undefined, 12],
      [myNumber, 72, 12],
      [img(0xdf2a), 24, 12],
    ];
    for (const [png, w, h] of expectSizes) {
      expect(png[24]).toBe(1); // IHDR bit depth
      expect(png[25]).toBe(0); // IHDR colour type greyscale
      const decoded = PNG.sync.read(Buffer.from(png));
      if (w !== undefined) expect(decoded.width).toBe(w);
      expect(decoded.height).toBe(h);
      // some ink, some paper
      const reds = [...decoded.data.filter((_, i) => i % 4 === 0)];
      expect(reds.some((r) => r === 0) && reds.some((r) => r === 255)).toBe(true);
    }
  });

  it('renders each digit differently (the My Number image changes with the number)', () => {
    const a = deriveFiles(withHolder({ myNumber: '123456789018' })).face.get(5)!;
    const b = deriveFiles(withHolder({ myNumber: '223456789012' })).face.get(5)!;
    expect(hex(a)).not.toBe(hex(b));
  });
});

describe('JPKI AP', () => {
  it('EF 0006 token info: 160 bytes in the layout of docs/card.md §3.1.1', () => {
    const t = tokenInfo(base);
    expect(t.length).toBe(160);
    const s = (from: number, to: number) => Buffer.from(t.subarray(from, to)).toString('latin1');
    expect(s(0, 32)).toBe(base.card.tokenLabel.padEnd(32, ' '));
    expect(s(64, 80)).toBe('MYNAHIL1'.padEnd(16, ' '));
    expect(s(80, 96)).toBe(base.card.tokenSerial);
    expect(hex(t.subarray(96, 100))).toBe('0000040D');
    expect(hex(t.subarray(100, 124))).toBe('00000001' + '00000000' + '00000001' + '00000000' + '00000010' + '00000006');
    expect(hex(t.subarray(124, 140))).toBe('FF'.repeat(16));
    expect(s(140, 144)).toBe('0301');
    expect(hex(deriveFiles(base).jpki.tokenInfo)).toBe(hex(t));
  });

  it('EF 0008 is 8F 8F 00 with a sign certificate, 00 8F 00 without; certificates are DER starting 30 82', async () => {
    const f = deriveFiles(base).jpki;
    expect(hex(f.certAvailability)).toBe('8F8F00');
    for (const der of [f.authCert, f.signCert!, f.authCa, f.signCa]) {
      expect(hex(der.subarray(0, 2))).toBe('3082');
      expect(((der[2] << 8) | der[3]) + 4).toBe(der.length);
    }
    const minor = deriveFiles(await profileOf('minor')).jpki;
    expect(hex(minor.certAvailability)).toBe('008F00');
    expect(minor.signCert).toBeUndefined();
  });
});

describe('verification values (docs/card.md §4.4)', () => {
  it('照合番号B for the spec example: born 1980-02-17, expiry 2035, code 2285 → 55021720352285', () => {
    const v = deriveFiles(withHolder({ birthDate: '1980-02-17' }, { expiry: '2035-02-17', securityCode: '2285' })).verification;
    expect(v.b).toBe('55021720352285');
    expect(v.birth).toBe('550217');
    expect(v.a).toBe(base.holder.myNumber);
  });

  it('era YYMMDD at every era boundary', () => {
    const cases: Array<[string, string]> = [
      ['2019-05-01', '010501'],
      ['2019-04-30', '310430'], // 令和1 / 平成31
      ['1989-01-08', '010108'],
      ['1989-01-07', '640107'], // 平成1 / 昭和64
      ['1926-12-25', '011225'],
      ['1926-12-24', '151224'], // 昭和1 / 大正15
      ['1912-07-30', '010730'],
      ['1912-07-29', '450729'], // 大正1 / 明治45
      ['1868-01-25', '010125'],
    ];
    for (const [date, yymmdd] of cases) expect([date, eraYymmdd(date)]).toEqual([date, yymmdd]);
    expect(() => eraYymmdd('1868-01-24')).toThrow(/before the 明治 era/);
  });
});

describe('records, GET DATA, filler', () => {
  it('共通カードAP 0001 record 1 = 01 1C + serial + municipality + expiry; 0002 and 住基AP 0002 one 16-byte record', () => {
    const f = deriveFiles(base);
    const r1 = f.commonRecords.get(1)![0];
    expect(hex(r1.subarray(0, 2))).toBe('011C');
    expect(Buffer.from(r1.subarray(2)).toString()).toBe(base.card.serial + base.card.municipalityCode + base.card.expiry.replaceAll('-', ''));
    expect(f.commonRecords.get(2)!.map((r) => r.length)).toEqual([16]);
    expect(f.jukiRecords.get(2)!.map((r) => r.length)).toEqual([16]);
  });

  it('GET DATA 5F51 is the ATR without 3B; 00F0 municipality; 00F2 expiry; 0045 card id', () => {
    const g = deriveFiles(base).getData;
    expect(`3B${hex(g.get(0x5f51)!)}`).toBe(base.card.atr.toUpperCase());
    expect(Buffer.from(g.get(0x00f0)!).toString()).toBe(base.card.municipalityCode);
    expect(Buffer.from(g.get(0x00f2)!).toString()).toBe(base.card.expiry.replaceAll('-', ''));
    expect(Buffer.from(g.get(0x0045)!).toString()).toBe(base.card.serial);
  });
});

describe('fixtures and speed', () => {
  it('the default photo is a JP2: it starts with the signature box 00 00 00 0C 6A 50 20 20 0D 0A 87 0A', () => {
    const jp2 = readFileSync(new URL('../../simulator/profile/fixtures/photo.jp2', import.meta.url));
    expect(hex(jp2.subarray(0, 12))).toBe('0000000C6A5020200D0A870A');
    expect(PHOTO_JP2_BASE64).toBe(jp2.toString('base64')); // the constant bundled builds use
    expect(base.photoJp2).toBe(jp2.toString('base64'));
  });

  it('a tampered profile is refused with the field named', () => {
    const p = clone(base);
    p.keys.textAp = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';
    expect(() => deriveFiles(p)).toThrow(/field keys\.textAp: not a readable key/);
  });
});
