/**
 * `card learn` in process (issue 9, "Card learning"): a card built from a profile with non-default
 * behaviour is learned over a fresh base profile; the card built from the learned profile shows the
 * same public files byte for byte and answers every probe the same, while its keys are its own.
 */
import { createPublicKey, verify as verifySig, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../simulator/apdu/codec.ts';
import { cardFromProfile } from '../../simulator/card/build.ts';
import { inProcessChannel } from '../../simulator/card/channel.ts';
import { generateProfile } from '../../simulator/profile/generate.ts';
import { parseProfile } from '../../simulator/profile/io.ts';
import type { Behaviour, Profile } from '../../simulator/profile/schema.ts';
import { isHarmless, learnCard, type LearnedCard } from '../../harness/learn/read.ts';
import { learnedProfile } from '../../harness/learn/profile.ts';
import { testProfile } from '../support/card.ts';
import { publicView, recording } from './support.ts';

let base: Profile;
beforeAll(async () => {
  base = await generateProfile({ name: '学習　基礎' }); // another card: other keys, holder, issuer
}, 30_000);

type Overrides = { behaviour?: Partial<Behaviour>; remaining?: Partial<Record<'auth' | 'sign' | 'juki' | 'kenmen' | 'common', number>> };

function variantOf(p: Profile, o: Overrides): Profile {
  const q = structuredClone(p);
  Object.assign(q.behaviour, o.behaviour ?? {});
  for (const [pin, n] of Object.entries(o.remaining ?? {})) q.pins[pin as keyof Profile['pins']].remaining = n;
  return q;
}

const fresh = (p: Profile) => cardFromProfile(p, { faults: 'throw' });

async function learn(p: Profile): Promise<{ learned: LearnedCard; profile: Profile; sent: Uint8Array[] }> {
  const card = fresh(p);
  const ch = recording(inProcessChannel(card));
  const learned = await learnCard(ch, card.atr());
  const made = learnedProfile(learned, base, { reader: 'in-process', at: new Date('2026-01-02T03:04:05Z'), baseSource: 'base.json' });
  // through the loader, as the CLI writes it and a user loads it
  const profile = parseProfile(JSON.stringify(made), 'learned.json');
  return { learned, profile, sent: ch.sent };
}

const probeAnswers = (l: LearnedCard) => l.probes.map((x) => `${x.probe}: ${x.command} → ${x.answer}`);

async function expectSameCard(original: Profile): Promise<Profile> {
  const { learned, profile } = await learn(original);
  expect(toHex(fresh(profile).atr())).toBe(original.card.atr);
  expect(await publicView(inProcessChannel(fresh(profile)))).toEqual(await publicView(inProcessChannel(fresh(original))));
  const again = await learnCard(inProcessChannel(fresh(profile)), fresh(profile).atr());
  expect(probeAnswers(again)).toEqual(probeAnswers(learned));
  return profile;
}

const NON_DEFAULT: Array<[string, Overrides]> = [
  ['unknownAidSw 6A86', { behaviour: { unknownAidSw: '6A86' } }],
  ['certificatePadding 32 bytes of 00', { behaviour: { certificatePadding: { bytes: 32, byte: 0 } } }],
  ['certificatePadding 300 bytes of FF (a chunk boundary)', { behaviour: { certificatePadding: { bytes: 300, byte: 0xff } } }],
  ['getData false', { behaviour: { getData: false } }],
  ['sfiShortForms false', { behaviour: { sfiShortForms: false } }],
  ['selectFciSw 6A86', { behaviour: { selectFciSw: '6A86' } }],
  ['allowAidPrefix true', { behaviour: { allowAidPrefix: true } }],
  ['auth PIN with 2 tries left, sign with 1', { remaining: { auth: 2, sign: 1 } }],
  ['authCertNeedsPin', { behaviour: { authCertNeedsPin: true } }],
];

describe('card learn in process: the learned card shows what the original shows', () => {
  it.each(NON_DEFAULT)('%s', async (_name, o) => {
    const original = variantOf(await testProfile('adult'), o);
    const learned = await expectSameCard(original);
    for (const [k, v] of Object.entries(o.behaviour ?? {})) {
      if (k === 'authCertNeedsPin') continue; // checked below: the certificate is then the base's
      expect(learned.behaviour[k as keyof Behaviour], k).toEqual(v);
    }
    for (const [pin, n] of Object.entries(o.remaining ?? {})) expect(learned.pins[pin as 'auth'].remaining).toBe(n);
  });

  it('an auth certificate behind the PIN is learned as authCertNeedsPin, and the base keeps its certificate', async () => {
    const { profile, learned } = await learn(variantOf(await testProfile('adult'), { behaviour: { authCertNeedsPin: true } }));
    expect(profile.behaviour.authCertNeedsPin).toBe(true);
    expect(learned.authCert).toBeUndefined();
    expect(profile.certificates.auth).toBe(base.certificates.auth);
    expect(profile.learned!.note).toContain('the auth certificate needs the auth PIN');
  });

  it('a card without a sign certificate: no sign key or certificate, missingSignCertSw learned', async () => {
    const original = variantOf(await testProfile('minor'), { behaviour: { missingSignCertSw: '6986' } });
    const profile = await expectSameCard(original);
    expect(profile.certificates.sign).toBeUndefined();
    expect(profile.keys.sign).toBeUndefined();
    expect(profile.behaviour.missingSignCertSw).toBe('6986');
  });

  it('the learned profile takes the card public parts, and keeps the base secrets (PIN values are placeholders)', async () => {
    const original = await testProfile('adult');
    const { profile } = await learn(original);
    expect(profile.card).toMatchObject({
      atr: original.card.atr,
      serial: original.card.serial,
      municipalityCode: original.card.municipalityCode,
      expiry: original.card.expiry,
      tokenLabel: original.card.tokenLabel,
      tokenSerial: original.card.tokenSerial,
    });
    expect(profile.certificates.authCa).toBe(original.certificates.authCa);
    expect(profile.certificates.signCa).toBe(original.certificates.signCa);
    expect(profile.keys).toEqual(base.keys);
    expect(profile.holder).toEqual(base.holder);
    expect(profile.issuer).toEqual(base.issuer);
    for (const pin of ['auth', 'sign', 'juki', 'kenmen', 'common'] as const) expect(profile.pins[pin].value).toBe(base.pins[pin].value);
    expect(profile.comment).toMatch(/NOT the card's/);
    expect(profile.learned).toMatchObject({ reader: 'in-process', at: '2026-01-02T03:04:05.000Z', atr: original.card.atr });
    expect(profile.learned!.probes.find((p) => p.probe === 'SELECT an unknown AID')).toEqual({
      probe: 'SELECT an unknown AID',
      command: '00 A4 04 0C 07 A0 00 00 00 03 10 10',
      answer: '6A82',
      option: 'unknownAidSw = 6A82',
    });
  });

  it('the keys are new: a signature of the learned card does not verify with the learned certificate', async () => {
    const { profile } = await learn(await testProfile('adult'));
    const cert = new X509Certificate(profile.certificates.auth);
    expect(cert.publicKey.equals(createPublicKey(profile.keys.auth))).toBe(false);
    const card = fresh(profile);
    const tx = (h: string) => toHex(card.transmit(Buffer.from(h, 'hex')));
    tx('00A4040C0AD392F000260100000001');
    tx('00A4020C020018');
    expect(tx(`0020008004${Buffer.from(profile.pins.auth.value).toString('hex')}`)).toBe('9000');
    tx('00A4020C020017');
    const msg = Buffer.from('learned');
    const digestInfo = Buffer.concat([
      Buffer.from('3031300d060960864801650304020105000420', 'hex'),
      (await import('node:crypto')).createHash('sha256').update(msg).digest(),
    ]);
    const rsp = card.transmit(Buffer.concat([Buffer.from('802A0080', 'hex'), Uint8Array.of(digestInfo.length), digestInfo, Uint8Array.of(0)]));
    expect(toHex(rsp.subarray(-2))).toBe('9000');
    const sig = rsp.subarray(0, -2);
    expect(verifySig('sha256', msg, cert.publicKey, sig)).toBe(false);
    expect(verifySig('sha256', msg, createPublicKey(profile.keys.auth), sig)).toBe(true);
  });

  it('only a learned profile may hold a certificate whose key is not its own', async () => {
    const { profile } = await learn(await testProfile('adult'));
    const unlearned: Record<string, unknown> = structuredClone(profile);
    delete unlearned.learned;
    expect(() => parseProfile(JSON.stringify(unlearned), 'hand-made.json')).toThrow(
      /^hand-made\.json: field certificates\.auth: its public key is not the one of keys\.auth/,
    );
    expect(() => parseProfile(JSON.stringify(profile), 'learned.json')).not.toThrow();
  });

  it('property: any combination of the learnable options comes back the same', async () => {
    const adult = await testProfile('adult');
    const minor = await testProfile('minor');
    const sw = fc.constantFrom('6A82', '6A86', '6D00', '6985', '6A88');
    const arb = fc.record({
      minor: fc.boolean(),
      behaviour: fc.record({
        unknownAidSw: sw,
        missingSignCertSw: sw,
        selectFciSw: fc.option(sw, { nil: undefined }),
        allowAidPrefix: fc.boolean(),
        getData: fc.boolean(),
        sfiShortForms: fc.boolean(),
        authCertNeedsPin: fc.boolean(),
        certificatePadding: fc.record({ bytes: fc.integer({ min: 0, max: 600 }), byte: fc.integer({ min: 0, max: 255 }) }),
      }),
      remaining: fc.record({ auth: fc.integer({ min: 0, max: 3 }), sign: fc.integer({ min: 0, max: 5 }), juki: fc.integer({ min: 0, max: 3 }) }),
    });
    await fc.assert(
      fc.asyncProperty(arb, async (o) => {
        const original = variantOf(o.minor ? minor : adult, o);
        if (o.behaviour.selectFciSw === undefined) delete original.behaviour.selectFciSw;
        const learned = await expectSameCard(original);
        const expected: Record<string, unknown> = { ...o.behaviour };
        if (!o.minor) expected.missingSignCertSw = base.behaviour.missingSignCertSw; // not seen on a card with one
        // no filler: its byte cannot be seen (the card is the same whatever it is); learned as FF, the simulator's default
        if (o.behaviour.certificatePadding.bytes === 0) expected.certificatePadding = { bytes: 0, byte: 0xff };
        for (const [k, v] of Object.entries(expected)) expect(learned.behaviour[k as keyof Behaviour], k).toEqual(v);
        expect({ auth: learned.pins.auth.remaining, sign: learned.pins.sign.remaining, juki: learned.pins.juki.remaining }).toEqual(o.remaining);
      }),
      { numRuns: 20 },
    );
  }, 60_000);
});

/** The probes of an adult card with the defaults, in order (reads of whole EFs collapsed to one line). */
const EXPECTED_PROBES = [
  '00 CA 00 45 00',
  '00 CA 00 F0 00',
  '00 CA 00 F2 00',
  '00 A4 04 0C 07 A0 00 00 00 03 10 10',
  '00 A4 04 0C 08 D3 92 F0 00 26 01 00 00',
  '00 A4 04 00 0A D3 92 F0 00 26 01 00 00 00 01',
  '00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01',
  '00 A4 02 0C 02 00 06',
  'READ BINARY …',
  '00 A4 02 0C 02 00 0A',
  'READ BINARY …',
  '00 A4 02 0C 02 00 0B',
  'READ BINARY …',
  '00 B0 <size of 000B> 01',
  '00 A4 02 0C 02 00 02',
  'READ BINARY …',
  '00 A4 02 0C 02 00 01',
  '00 A4 02 0C 02 00 99',
  '00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01',
  '00 20 00 98',
  '00 A4 02 0C 02 00 18',
  '00 20 00 80',
  '00 A4 02 0C 02 00 1B',
  '00 20 00 80',
  '00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08',
  '00 A4 02 0C 02 00 11',
  '00 20 00 80',
  '00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 01',
  '00 A4 02 0C 02 00 1C',
  '00 20 00 80',
  '00 A4 04 0C 0A D3 92 10 00 31 00 01 01 01 00',
  '00 A4 02 0C 02 00 1C',
  '00 20 00 80',
  '00 A4 04 0C 0A D3 92 10 00 31 00 01 01 01 00',
  '00 A4 02 0C 02 00 01',
  '00 B2 01 04 00',
];

/** Consecutive READ BINARY `00 B0 off 00` chunks → one line; the past-the-end probe (Le 01) kept apart. */
function collapse(sent: Uint8Array[], authCaSize: number): string[] {
  const out: string[] = [];
  for (const c of sent) {
    const h = toHex(c, ' ');
    if (c[1] === 0xb0 && c.length === 5 && c[4] === 0x00) {
      if (out[out.length - 1] !== 'READ BINARY …') out.push('READ BINARY …');
    } else if (c[1] === 0xb0 && ((c[2] << 8) | c[3]) === authCaSize && c[4] === 0x01) out.push('00 B0 <size of 000B> 01');
    else out.push(h);
  }
  return out;
}

describe('card learn sends a fixed set of harmless commands', () => {
  it('exactly the documented probes, and no command that carries PIN data or could spend a try', async () => {
    const { learned, sent } = await learn(await testProfile('adult'));
    expect(collapse(sent, learned.authCa.length)).toEqual(EXPECTED_PROBES);
    for (const c of sent) {
      expect(isHarmless(c), toHex(c, ' ')).toBe(true);
      expect(c[0], toHex(c, ' ')).toBe(0x00);
      expect([0xa4, 0xb0, 0xb2, 0xca, 0x20], toHex(c, ' ')).toContain(c[1]);
      if (c[1] === 0x20) expect(c.length, `VERIFY with data: ${toHex(c, ' ')}`).toBe(4);
    }
    expect(learned.probes).toHaveLength(sent.length);
  });

  it('docs/card-learn.md lists exactly these probes, in this order', () => {
    const doc = readFileSync(new URL('../../docs/card-learn.md', import.meta.url), 'utf8');
    const table = doc.slice(doc.indexOf('## Every probe'), doc.indexOf('## What the learned profile'));
    const rows = table.split('\n').filter((l) => /^\| \d+ /.test(l));
    const commands = rows.flatMap((r) => [...r.split('|')[3].matchAll(/`([^`]+)`/g)].map((m) => m[1].replace(/ …$/, '')));
    expect(commands.map((c) => (c === '00 B0 <offset> 00' ? 'READ BINARY …' : c))).toEqual(EXPECTED_PROBES);
  });

  it('isHarmless refuses VERIFY with data, CHANGE, RESET RETRY COUNTER, signatures and other classes', () => {
    const refused = [
      '002000800431323334', // VERIFY with a value: spends a try when wrong
      '0020008000', // VERIFY with Lc 00 / Le: not the 4-byte query
      '00240180083132333435363738', // CHANGE REFERENCE DATA
      '002C000080', // RESET RETRY COUNTER
      '802A00801300', // COMPUTE DIGITAL SIGNATURE
      '8032008004313233', // CHANGE KEY
      '0088000004', // INTERNAL AUTHENTICATE
      '80CA004500', // GET DATA in class 80
      '0C20008000', // VERIFY with secure messaging bits
      '002001800', // malformed
    ];
    for (const h of refused) expect(isHarmless(Buffer.from(h.length % 2 ? `${h}0` : h, 'hex')), h).toBe(false);
    for (const h of ['00200080', '00A4040C07A0000000031010', '00B0000000', '00B2010400', '00CA004500']) expect(isHarmless(Buffer.from(h, 'hex')), h).toBe(true);
  });

  it('learnCard refuses to send anything else (the check runs before each command)', async () => {
    const sent: Uint8Array[] = [];
    // a card that refuses everything: learning stops at the JPKI AP, having sent only harmless probes
    const ch = recording({
      async transmit(c) {
        sent.push(c);
        return Uint8Array.of(0x6a, 0x82);
      },
    });
    await expect(learnCard(ch, Uint8Array.of(0x3b, 0x00))).rejects.toThrow(/a My Number Card answers 9000/);
    expect(sent.every((c) => isHarmless(c))).toBe(true);
  });
});
