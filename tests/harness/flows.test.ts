/**
 * The spec flows and the authenticity check, in process: they pass on good cards of every variant
 * they apply to, and the authenticity check fails on a tampered card.
 */
import { constants, generateKeyPairSync, publicDecrypt, sign } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cardFromProfile } from '../../simulator/card/build.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { authenticityFlow } from '../../harness/flows/authenticity.ts';
import { inProcessChannel } from '../../simulator/card/channel.ts';
import { type FlowResult, parseBasic4, runFlows, SPEC_FLOWS } from '../../harness/flows/spec-flows.ts';
import { cmd, encode } from '../../harness/flows/apdu.ts';
import {
  AID,
  EF,
  isValidMyNumber,
  myNumberCheckDigit,
  publicKeyFromCard,
  SHA256_DIGESTINFO_PREFIX,
  sha256,
  sha256DigestInfo,
  verifiesDigestInfo,
} from '../../harness/flows/card-ref.ts';
import { readAll, readConstructed, readTlv, TlvError } from '../../harness/flows/tlv.ts';
import { testProfile } from '../support/card.ts';

const inputs = (p: Profile) => ({ authPin: p.pins.auth.value, signPin: p.pins.sign.value, kenmenPin: p.pins.kenmen.value });
const failedChecks = (r: FlowResult[]) => r.flatMap((f) => f.checks.filter((c) => !c.ok).map((c) => `${f.id}: ${c.what}`));

describe('spec flows in process', () => {
  it('all pass on an adult card, and no exchange shows a PIN', async () => {
    const p = await testProfile();
    const results = await runFlows(inProcessChannel(cardFromProfile(p)), [...SPEC_FLOWS, authenticityFlow(p.issuer.rootPublicKey)], inputs(p));
    expect(failedChecks(results)).toEqual([]);
    expect(results.every((r) => r.ok)).toBe(true);
    const all = results.flatMap((r) => r.exchanges.map((e) => e.command)).join('\n');
    for (const pin of [p.pins.auth.value, p.pins.sign.value, p.holder.myNumber]) {
      expect(all).not.toContain(
        Buffer.from(pin)
          .toString('hex')
          .toUpperCase()
          .replace(/(..)(?!$)/g, '$1 '),
      );
    }
  });

  it('the sign flow copes with a card without a signature certificate', async () => {
    const p = await testProfile('minor');
    const [r] = await runFlows(
      inProcessChannel(cardFromProfile(p)),
      SPEC_FLOWS.filter((f) => f.id === '11.2'),
      inputs(p),
    );
    expect(r.ok).toBe(true);
    expect(r.checks.map((c) => c.what)).toContain('card has no signature certificate (minor or face-authentication card)');
  });

  it('a wrong PIN stops a flow with the status word in the failed check', async () => {
    const p = await testProfile();
    const [r] = await runFlows(
      inProcessChannel(cardFromProfile(p)),
      SPEC_FLOWS.filter((f) => f.id === '11.1'),
      { ...inputs(p), authPin: '0000' },
    );
    expect(r.ok).toBe(false);
    expect(failedChecks([r]).join()).toMatch(/answers 9000/);
    expect(r.checks.find((c) => !c.ok)?.detail).toBe('answered 63C2 (COUNTER(2))');
  });
});

describe('flows catch what the card gets wrong', () => {
  it('11.3 fails when the DF21 offset table of EF 0002 does not point at DF22..DF25', async () => {
    const p = await testProfile();
    const card = inProcessChannel(cardFromProfile(p));
    // the basic 4 attributes' first READ (7 bytes: FF 20 LL DF 21 08 o1hi) with DF22's offset moved by 1
    const skewed = {
      async transmit(c: Uint8Array) {
        const r = await card.transmit(c);
        const basic4Head = c.length === 5 && c[1] === 0xb0 && c[4] === 7 && r[0] === 0xff && r[1] === 0x20 && r[3] === 0xdf && r[4] === 0x21;
        return basic4Head ? Uint8Array.from(r, (b, i) => (i === 6 ? b + 1 : b)) : r;
      },
    };
    const [r] = await runFlows(
      skewed,
      SPEC_FLOWS.filter((f) => f.id === '11.3'),
      inputs(p),
    );
    expect(failedChecks([r])).toEqual(['11.3: DF21 offsets point at DF22..DF25']);
    expect(r.checks.find((c) => !c.ok)?.detail).toMatch(/^table 270,\d+,\d+,\d+ actual 14,/);
  });
});

describe('authenticity check', () => {
  it('fails on a card whose holder data was edited after the issuer signed it', async () => {
    const good = await testProfile();
    const tampered: Profile = structuredClone(good);
    tampered.holder.name = '鈴木　花子';
    const [r] = await runFlows(inProcessChannel(cardFromProfile(tampered)), [authenticityFlow(good.issuer.rootPublicKey)], inputs(good));
    expect(r.ok).toBe(false);
    expect(failedChecks([r])).toEqual([
      'auth-check: DF33 (issuer signature over DF31 ‖ DF32) verifies',
      'auth-check: DF28 (issuer signature over the three card-face segments) verifies',
    ]);
  });

  it('fails the CVC against a foreign trust anchor', async () => {
    const p = await testProfile();
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const [r] = await runFlows(inProcessChannel(cardFromProfile(p)), [authenticityFlow(other)], inputs(p));
    expect(failedChecks([r])).toEqual(['auth-check: CVC signature verifies with the trust anchor', 'auth-check: CVC signature verifies with the trust anchor']);
  });
});

// ---------------------------------------------------------------------------------------------
// The flows' own card reference, checked against docs/card.md by hand-written bytes and against
// independent oracles (node:crypto, fast-check models), never against the simulator.

const hexOf = (u: Uint8Array): string => Buffer.from(u).toString('hex').toUpperCase();
const bytesOf = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

describe('flows import nothing of the card they test', () => {
  const flowsDir = new URL('../../harness/flows/', import.meta.url);
  const importsOf = (file: URL): Array<{ names: string; from: string }> =>
    [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s+(?:type\s+)?([^'";]*?)\s*from\s*'([^']+)'/gms)].map((m) => ({ names: m[1], from: m[2] }));

  it('harness/flows takes from simulator/ only the channel type, status-word names, trace redaction and toHex', () => {
    const allowed = new Set([
      '../../simulator/card/channel.ts',
      '../../simulator/apdu/sw.ts',
      '../../simulator/apdu/trace.ts',
      '../../simulator/apdu/codec.ts',
    ]);
    const files = readdirSync(flowsDir).filter((f) => f.endsWith('.ts'));
    expect(files).toEqual(expect.arrayContaining(['apdu.ts', 'authenticity.ts', 'card-ref.ts', 'spec-flows.ts', 'tlv.ts']));
    const fromSimulator = files.flatMap((f) =>
      importsOf(new URL(f, flowsDir))
        .filter((i) => i.from.includes('simulator/'))
        .map((i) => ({ file: f, ...i })),
    );
    expect(fromSimulator.filter((i) => !allowed.has(i.from))).toEqual([]);
    for (const forbidden of ['simulator/profile', 'simulator/applets', 'simulator/card/crypto']) {
      expect(fromSimulator.filter((i) => i.from.includes(forbidden))).toEqual([]);
    }
    // the codec only for display: a shared encoder/parser would let a length bug cancel out
    expect(fromSimulator.filter((i) => i.from.endsWith('codec.ts')).map((i) => i.names.replace(/\s+/g, ''))).toEqual(['{toHex}']);
  });

  it('harness/pcsc does not import harness/flows (the channel lives beside SmartCard)', () => {
    const pcscDir = new URL('../../harness/pcsc/', import.meta.url);
    const imports = readdirSync(pcscDir)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => importsOf(new URL(f, pcscDir)).map((i) => i.from));
    expect(imports).toContain('../../simulator/card/channel.ts');
    expect(imports.filter((i) => i.includes('flows'))).toEqual([]);
  });
});

describe('flows command encoder (docs/card.md §5, §11 traces)', () => {
  it('encodes the spec traces byte for byte', () => {
    expect(hexOf(cmd.selectAp(AID.jpki))).toBe('00A4040C0AD392F000260100000001');
    expect(hexOf(cmd.selectAp(AID.text))).toBe('00A4040C0AD3921000310001010408');
    expect(hexOf(cmd.selectAp(AID.face))).toBe('00A4040C0AD3921000310001010402');
    expect(hexOf(cmd.selectAp(Uint8Array.of(0xa0, 0, 0, 0, 3, 0x10, 0x10), 0x00))).toBe('00A4040007A0000000031010');
    expect(hexOf(cmd.selectEf(EF.jpki.authCert))).toBe('00A4020C02000A');
    expect(hexOf(cmd.selectEf(EF.jpki.signPin))).toBe('00A4020C02001B');
    expect(hexOf(cmd.readBinary(0, 4))).toBe('00B0000004');
    expect(hexOf(cmd.readBinary(0x0100, 256))).toBe('00B0010000');
    expect(hexOf(cmd.readBinary(0x0500, 0x8e))).toBe('00B005008E');
    expect(hexOf(cmd.readBinary(0x7fff, 1))).toBe('00B07FFF01');
    expect(hexOf(cmd.verify())).toBe('00200080');
    expect(hexOf(cmd.verify(bytesOf('31323334')))).toBe('002000800431323334');
    const di = sha256DigestInfo(new Uint8Array(32).fill(0xaa));
    expect(hexOf(cmd.signDigestInfo(di))).toBe(`802A008033${hexOf(di)}00`);
  });

  it('refuses what a short APDU cannot carry instead of truncating it', () => {
    expect(() => encode({ cla: 0, ins: 0xb0, p1: 0, p2: 0, ne: 257 })).toThrow(/Ne 257 is not 1\.\.256/);
    expect(() => encode({ cla: 0, ins: 0xb0, p1: 0, p2: 0, ne: 0 })).toThrow(/Ne 0/);
    expect(() => encode({ cla: 0, ins: 0xd6, p1: 0, p2: 0, data: new Uint8Array(256) })).toThrow(/256 bytes needs extended length/);
    expect(() => encode({ cla: 0x100, ins: 0, p1: 0, p2: 0 })).toThrow(/CLA 256 is not a byte/);
    expect(() => cmd.readBinary(0x8000, 1)).toThrow(/offset 32768 is not 0\.\.7FFF/);
  });

  it('every short case has Lc = data length and Le last (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 255 }), fc.option(fc.integer({ min: 1, max: 256 }), { nil: undefined }), (data, ne) => {
        const apdu = encode({ cla: 0x80, ins: 0x2a, p1: 0, p2: 0x80, data, ne });
        const expected = [0x80, 0x2a, 0x00, 0x80, ...(data.length ? [data.length, ...data] : []), ...(ne === undefined ? [] : [ne % 256])];
        expect([...apdu]).toEqual(expected);
      }),
    );
  });
});

describe('flows card reference (docs/card.md §1, §6)', () => {
  it('SHA-256 DigestInfo is the RFC 8017 prefix, and what node:crypto signs as sha256WithRSAEncryption', () => {
    expect(hexOf(SHA256_DIGESTINFO_PREFIX)).toBe('3031300D060960864801650304020105000420');
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const message = Buffer.from('independent oracle');
    const recovered = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, sign('sha256', message, privateKey));
    expect(hexOf(recovered)).toBe(hexOf(sha256DigestInfo(sha256(message))));
    expect(verifiesDigestInfo(publicKey, sha256DigestInfo(sha256(message)), sign('sha256', message, privateKey))).toBe(true);
    expect(verifiesDigestInfo(publicKey, sha256DigestInfo(sha256(Buffer.from('other'))), sign('sha256', message, privateKey))).toBe(false);
  });

  it('the card-face DigestInfo holds 96 bytes: 30 71 … 04 60 (docs/card.md §3.3 DF28)', () => {
    const d = sha256DigestInfo(new Uint8Array(96).fill(1));
    expect(hexOf(d.subarray(0, 19))).toBe('3071300D060960864801650304020105000460');
    expect(d.length).toBe(19 + 96);
    expect(() => sha256DigestInfo(new Uint8Array(20))).toThrow(/20 bytes/);
  });

  it('public keys: 90 <e> 91 <n> decodes to the same RSA key; other shapes are refused by name', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    const n = bytesOf(Buffer.from(jwk.n!, 'base64url').toString('hex'));
    const e = bytesOf(Buffer.from(jwk.e!, 'base64url').toString('hex'));
    const objects = bytesOf(`90 ${hexOf(Uint8Array.of(e.length))} ${hexOf(e)} 91 82 01 00 ${hexOf(n)}`);
    expect(publicKeyFromCard(objects).export({ format: 'jwk' })).toEqual(jwk);
    const swapped = bytesOf(`91 82 01 00 ${hexOf(n)} 90 ${hexOf(Uint8Array.of(e.length))} ${hexOf(e)}`);
    expect(() => publicKeyFromCard(swapped)).toThrow(/expected 90 <exponent> 91 <modulus>, found tags 91 90/);
    expect(() => publicKeyFromCard(bytesOf(`90 03 010001 91 02 ${hexOf(n.subarray(0, 2))}`))).toThrow(/modulus of 2 bytes/);
  });

  it('My Number check digit: the spec example, and the ordinance rule as written (P_n, Q_n from the right)', () => {
    expect(isValidMyNumber('123456789018')).toBe(true);
    expect(isValidMyNumber('123456789012')).toBe(false);
    expect(isValidMyNumber('12345678901')).toBe(false);
    // 総務省令 第5条: 11 − (Σ P_n × Q_n mod 11), 0 when the remainder is ≤ 1; P_n the n-th digit from the
    // right of the first 11; Q_n = n + 1 for n ≤ 6, n − 5 for n ≥ 7.
    const ordinance = (d: string) => {
      let sum = 0;
      for (let n = 1; n <= 11; n++) sum += Number(d[11 - n]) * (n <= 6 ? n + 1 : n - 5);
      return sum % 11 <= 1 ? 0 : 11 - (sum % 11);
    };
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 11, maxLength: 11 }), (d) => {
        expect(myNumberCheckDigit(d)).toBe(ordinance(d));
        expect([...'0123456789'].filter((c) => isValidMyNumber(d + c))).toEqual([String(ordinance(d))]);
      }),
    );
  });

  it('parseBasic4 reads the docs/card.md §3.2.1 example, offsets included', () => {
    const b4 = parseBasic4(
      bytesOf(`FF 20 56 DF 21 08 00 0E 00 20 00 4A 00 55
        DF 22 0F E5 B1 B1 E7 94 B0 E3 80 80 E5 A4 AA E9 83 8E
        DF 23 27 E6 9D B1 E4 BA AC E9 83 BD E5 8D 83 E4 BB A3 E7 94 B0 E5 8C BA E5 8D 83 E4 BB A3 E7 94 B0 EF BC 91 EF BC 8D EF BC 91
        DF 24 08 31 39 38 30 30 31 30 31
        DF 25 01 31`),
    );
    expect(b4).toEqual({
      name: '山田　太郎',
      address: '東京都千代田区千代田１－１',
      birth: '19800101',
      sex: '1',
      offsets: { table: [0x0e, 0x20, 0x4a, 0x55], actual: [0x0e, 0x20, 0x4a, 0x55] },
    });
  });
});

describe('flows BER-TLV reader (docs/card.md §3.2.1)', () => {
  /** The test's own tiny encoder: the tag bytes as given, the length in the form asked for. */
  type Form = 'short' | '81' | '82';
  const lengthBytes = (n: number, form: Form): number[] => (form === 'short' ? [n] : form === '81' ? [0x81, n] : [0x82, n >> 8, n & 0xff]);
  const encodeTlv = (tag: number[], value: Uint8Array, form: Form): Uint8Array => Uint8Array.from([...tag, ...lengthBytes(value.length, form), ...value]);
  const tagNumber = (tag: number[]) => tag.reduce((t, b) => t * 256 + b, 0);

  /** Valid 1-3 byte tags: one byte whose low 5 bits are not 1F; or 1F-form with continuation bytes. */
  const tagArb = fc.oneof(
    fc
      .integer({ min: 0, max: 0xff })
      .filter((b) => (b & 0x1f) !== 0x1f)
      .map((b) => [b]),
    fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 0x7f })).map(([hi, b]) => [(hi << 5) | 0x1f, b]),
    fc
      .tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0x80, max: 0xff }), fc.integer({ min: 0, max: 0x7f }))
      .map(([hi, b, c]) => [(hi << 5) | 0x1f, b, c]),
  );
  const formFor = (n: number) =>
    fc.constantFrom<Form>(...(n < 0x80 ? (['short', '81', '82'] as Form[]) : n < 0x100 ? (['81', '82'] as Form[]) : (['82'] as Form[])));
  const objectArb = fc
    .tuple(tagArb, fc.uint8Array({ maxLength: 600 }))
    .chain(([tag, value]) => formFor(value.length).map((form) => ({ tag, value, form, bytes: encodeTlv(tag, value, form) })));

  it('round trip: tag, value, header length and raw for every tag size and length form', () => {
    fc.assert(
      fc.property(objectArb, fc.uint8Array({ maxLength: 8 }), ({ tag, value, form, bytes }, trailing) => {
        const buf = Uint8Array.from([...bytes, ...trailing]);
        const t = readTlv(buf);
        expect(t.tag).toBe(tagNumber(tag));
        expect(hexOf(t.value)).toBe(hexOf(value));
        expect(t.headerLength).toBe(tag.length + lengthBytes(value.length, form).length);
        expect(hexOf(t.raw)).toBe(hexOf(bytes));
      }),
    );
  });

  it('a run of objects reads back in order with their offsets; readConstructed sees members by tag', () => {
    fc.assert(
      fc.property(fc.array(objectArb, { maxLength: 6 }), (objects) => {
        const run = Uint8Array.from(objects.flatMap((o) => [...o.bytes]));
        const read = readAll(run);
        expect(read.map((t) => [t.tag, hexOf(t.value)])).toEqual(objects.map((o) => [tagNumber(o.tag), hexOf(o.value)]));
        let offset = 0;
        for (const [i, t] of read.entries()) {
          expect(t.offset).toBe(offset);
          offset += objects[i].bytes.length;
        }
        const file = Uint8Array.from([...encodeTlv([0xff, 0x20], run, run.length < 0x80 ? 'short' : '82'), 0xff, 0xff]);
        const { outer, members } = readConstructed(file);
        expect(outer.tag).toBe(0xff20);
        for (const [i, m] of members.entries()) expect(hexOf(file.subarray(m.offset, m.offset + m.raw.length))).toBe(hexOf(objects[i].bytes));
      }),
    );
  });

  it('every truncation is refused with the offset and what is missing', () => {
    fc.assert(
      fc.property(objectArb, fc.nat(), ({ bytes }, cut) => {
        const short = bytes.subarray(0, cut % bytes.length);
        expect(() => readTlv(short)).toThrow(TlvError);
        expect(() => readTlv(short)).toThrow(/^BER-TLV at offset 0: truncated: the (tag|length|value)/);
      }),
    );
    expect(() => readTlv(bytesOf('DF 22 05 41 42'))).toThrow('BER-TLV at offset 0: truncated: the value is 5 bytes, only 2 left');
    expect(() => readAll(bytesOf('01 01 00 DF'))).toThrow(/^BER-TLV at offset 3: truncated: the tag needs byte 2/);
    expect(() => readTlv(bytesOf('DF 22 82 01'))).toThrow(/truncated: the length needs byte 5/);
  });

  it('refuses indefinite and 3+ byte length forms and 4-byte tags, naming the fix', () => {
    for (const form of [0x80, 0x83, 0x84, 0xff]) {
      expect(() => readTlv(Uint8Array.of(0x04, form, 0, 0, 0, 0))).toThrow(`length form ${form.toString(16).toUpperCase()} is not short, 81 or 82`);
    }
    expect(() => readTlv(bytesOf('DF 81 82 01 00'))).toThrow(/tag longer than 3 bytes/);
    expect(() => readTlv(bytesOf('DF 81 82 01 00'))).toThrow(/docs\/card\.md §3\.2\.1/);
  });
});
