/**
 * The reference kiosk (examples/kiosk) against in-process cards: what it sends (the recorded trace),
 * what it shows, its exit codes, and the card's counters afterwards.
 */
import { verify, X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXIT, runKiosk, type KeyChoice } from '../../examples/kiosk/kiosk.ts';
import { newCard, testCard, testProfile } from '../support/card.ts';
import { cardWithTries, isQuery, isVerifyWithData, recorded, scriptedIo, selectedEfAt, spendTries, triesLeft, wrongDigits } from './support.ts';

const CHALLENGE = new TextEncoder().encode('kiosk test challenge');

async function kiosk(card: Parameters<typeof recorded>[0], key: KeyChoice, replies: Record<string, string>) {
  const { channel, sent } = recorded(card);
  const io = scriptedIo(replies);
  const exit = await runKiosk(channel, io, { key, challenge: CHALLENGE });
  return { exit, sent, io };
}

const signatureOf = (lines: string[]): Buffer => {
  const line = lines.find((l) => l.startsWith('signature'));
  if (!line) throw new Error(`no signature line in ${lines.join(' | ')}`);
  return Buffer.from(line.split(': ')[1], 'hex');
};

describe('the reference kiosk signs', () => {
  it('with the auth key after the auth PIN: the signature verifies with the auth certificate', async () => {
    const profile = await testProfile('adult');
    const { exit, sent, io } = await kiosk(testCard(profile), 'auth', { 'auth PIN': profile.pins.auth.value });
    expect(exit).toBe(EXIT.ok);
    const sig = signatureOf(io.lines);
    expect(sig.length).toBe(256);
    expect(verify('sha256', CHALLENGE, new X509Certificate(profile.certificates.auth).publicKey, sig)).toBe(true);
    // the prompt names the PIN (CLIENT-001) and the VERIFY goes to that PIN's key EF
    expect(io.prompts).toEqual(['利用者証明用電子証明書暗証番号 (auth PIN, 4 digits): ']);
    const v = sent.findIndex(isVerifyWithData);
    expect(selectedEfAt(sent, v)).toBe(0x0018);
    expect(
      selectedEfAt(
        sent,
        sent.findIndex((s) => s.command[1] === 0x2a),
      ),
    ).toBe(0x0017);
    expect(io.output()).not.toContain(profile.pins.auth.value);
  });

  it('reads the certificate in chunks sized from its DER header: 4 bytes, then at most 256 each, the last exact', async () => {
    const profile = await testProfile('adult');
    const { sent } = await kiosk(testCard(profile), 'auth', { 'auth PIN': profile.pins.auth.value });
    const der = new X509Certificate(profile.certificates.auth).raw;
    const reads = sent.filter((s) => s.command[1] === 0xb0).map((s) => [(s.command[2] << 8) | s.command[3], s.command[4] || 256]);
    const expected: number[][] = [[0, 4]];
    for (let off = 4; off < der.length; off += 256) expected.push([off, Math.min(256, der.length - off)]);
    expect(reads).toEqual(expected);
  });

  it('queries the tries left before any VERIFY with data, and sends exactly one', async () => {
    const profile = await testProfile('adult');
    const { sent, io } = await kiosk(testCard(profile), 'auth', { 'auth PIN': profile.pins.auth.value });
    const q = sent.findIndex(isQuery);
    expect(q).toBeGreaterThanOrEqual(0);
    expect(q).toBeLessThan(sent.findIndex(isVerifyWithData));
    expect(sent.filter(isVerifyWithData)).toHaveLength(1);
    expect(io.lines).toContain('利用者証明用暗証番号 (auth PIN): 残り3回 (3 tries left)');
  });

  it('with the sign key after the sign password: VERIFY 001B, sign with 001A, verifies with the sign certificate', async () => {
    const profile = await testProfile('adult');
    const { exit, sent, io } = await kiosk(testCard(profile), 'sign', { 'sign password': profile.pins.sign.value });
    expect(exit).toBe(EXIT.ok);
    expect(io.prompts[0]).toContain('署名用電子証明書パスワード');
    const sig = signatureOf(io.lines);
    expect(verify('sha256', CHALLENGE, new X509Certificate(profile.certificates.sign as string).publicKey, sig)).toBe(true);
    expect(selectedEfAt(sent, sent.findIndex(isVerifyWithData))).toBe(0x001b);
    expect(
      selectedEfAt(
        sent,
        sent.findIndex((s) => s.command[1] === 0x2a),
      ),
    ).toBe(0x001a);
  });
});

describe('the last try', () => {
  it('at 1 try left (profile) asks for confirmation, and "n" stops before anything is sent', async () => {
    const profile = await testProfile('adult');
    const card = cardWithTries(profile, { auth: 1 });
    const { exit, sent, io } = await kiosk(card, 'auth', { 'auth PIN': profile.pins.auth.value, 'continue?': 'n' });
    expect(exit).toBe(EXIT.declined);
    expect(io.prompts[1]).toMatch(/^残り1回.*last try.*continue\? \[y\/N\]/);
    expect(io.lines.join('\n')).toContain('残り1回 (1 try left)');
    expect(sent.filter(isVerifyWithData)).toEqual([]);
    expect(triesLeft(card, 'auth')).toBe(1);
  });

  it('at 1 try left (two wrong VERIFYs) goes on after "y": the right PIN restores the counter', async () => {
    const profile = await testProfile('adult');
    const card = testCard(profile);
    spendTries(card, 'auth', wrongDigits(profile.pins.auth.value), 2);
    const { exit, sent, io } = await kiosk(card, 'auth', { 'auth PIN': profile.pins.auth.value, 'continue?': 'y' });
    expect(exit).toBe(EXIT.ok);
    expect(io.prompts).toHaveLength(2);
    expect(sent.filter(isVerifyWithData)).toHaveLength(1);
    expect(triesLeft(card, 'auth')).toBe(3);
  });

  it('a wrong PIN on the confirmed last try locks it and is reported as locked, not as wrong', async () => {
    const profile = await testProfile('adult');
    const card = cardWithTries(profile, { auth: 1 });
    const { exit, sent, io } = await kiosk(card, 'auth', { 'auth PIN': wrongDigits(profile.pins.auth.value), 'continue?': 'yes' });
    expect(exit).toBe(EXIT.locked);
    expect(sent.filter(isVerifyWithData).map((s) => s.sw)).toEqual([0x63c0]);
    expect(io.lines.join('\n')).toContain('ロックされています (the 利用者証明用暗証番号 (auth PIN) is locked; the card answered 63C0)');
  });
});

describe('wrong and locked PINs', () => {
  it('a wrong PIN: one VERIFY, the tries left shown, exit code of its own', async () => {
    const profile = await testProfile('adult');
    const card = testCard(profile);
    const { exit, sent, io } = await kiosk(card, 'auth', { 'auth PIN': wrongDigits(profile.pins.auth.value) });
    expect(exit).toBe(EXIT.wrongPin);
    expect(sent.filter(isVerifyWithData).map((s) => s.sw)).toEqual([0x63c2]);
    expect(io.lines.at(-1)).toContain('残り2回');
    expect(triesLeft(card, 'auth')).toBe(2);
  });

  it.each(['auth', 'sign'] as const)('locked %s PIN (profile at 0 tries): exit 3 with the route, no prompt, no VERIFY with data', async (key) => {
    const profile = await testProfile('adult');
    const { exit, sent, io } = await kiosk(cardWithTries(profile, { [key]: 0 }), key, {});
    expect(exit).toBe(EXIT.locked);
    expect(io.prompts).toEqual([]);
    expect(sent.filter(isVerifyWithData)).toEqual([]);
    expect(sent.filter(isQuery).map((s) => s.sw)).toEqual([0x63c0]);
    expect(io.lines.join('\n')).toMatch(/窓口/);
  });

  it('a face-authentication-only card (auth PIN locked on purpose): exit 3, the message covers that card', async () => {
    const { exit, sent, io } = await kiosk(await newCard('face-auth-only'), 'auth', {});
    expect(exit).toBe(EXIT.locked);
    expect(sent.filter(isVerifyWithData)).toEqual([]);
    expect(io.lines.join('\n')).toContain('顔認証マイナンバーカード');
  });
});

describe('a malformed PIN never reaches the card', () => {
  it.each([
    ['auth', '123', '数字4桁'],
    ['auth', '12345', '数字4桁'],
    ['sign', 'abc123', '大文字'],
    ['sign', 'Abc123', '大文字'],
    ['sign', 'AB12', '6文字以上'],
    ['sign', 'ABC-123', '英大文字と数字'],
  ] as const)('%s entry %j: exit 7, a format message (%s), no VERIFY with data, counter unchanged', async (key, entry, hint) => {
    const profile = await testProfile('adult');
    const card = testCard(profile);
    const { exit, sent, io } = await kiosk(card, key, { [key === 'auth' ? 'auth PIN' : 'sign password']: entry });
    expect(exit).toBe(EXIT.malformedPin);
    expect(sent.filter(isVerifyWithData)).toEqual([]);
    expect(io.lines.at(-1)).toContain(hint);
    expect(io.output()).not.toContain(entry);
    expect(triesLeft(card, key)).toBe(key === 'auth' ? 3 : 5);
  });

  it('property: any auth entry that is not exactly 4 digits is refused without a VERIFY with data', async () => {
    const profile = await testProfile('adult');
    const card = testCard(profile);
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 8 }).filter((s) => !/^[0-9]{4}$/.test(s)),
        async (entry) => {
          const { exit, sent } = await kiosk(card, 'auth', { 'auth PIN': entry });
          expect(exit).toBe(EXIT.malformedPin);
          expect(sent.filter(isVerifyWithData)).toEqual([]);
        },
      ),
      { numRuns: 40 },
    );
    expect(triesLeft(card, 'auth')).toBe(3);
  });

  it('property: a sign password with a lower-case letter is refused without a VERIFY with data', async () => {
    const profile = await testProfile('adult');
    const card = testCard(profile);
    const char = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz');
    await fc.assert(
      fc.asyncProperty(
        fc
          .array(char, { minLength: 6, maxLength: 16 })
          .map((a) => a.join(''))
          .filter((s) => /[a-z]/.test(s)),
        async (entry) => {
          const { exit, sent, io } = await kiosk(card, 'sign', { 'sign password': entry });
          expect(exit).toBe(EXIT.malformedPin);
          expect(sent.filter(isVerifyWithData)).toEqual([]);
          expect(io.lines.at(-1)).toContain('大文字');
        },
      ),
      { numRuns: 40 },
    );
    expect(triesLeft(card, 'sign')).toBe(5);
  });
});

describe('a card without a signature certificate (minor)', () => {
  it('the sign key: exit 5 with a clear message, before any sign password is asked for or sent', async () => {
    const { exit, sent, io } = await kiosk(await newCard('minor'), 'sign', {});
    expect(exit).toBe(EXIT.noSignCertificate);
    expect(io.prompts).toEqual([]);
    expect(sent.filter((s) => s.command[1] === 0x20)).toEqual([]);
    expect(io.lines.join('\n')).toContain('署名用電子証明書がありません');
  });

  it('the auth key still works (each PIN on its own)', async () => {
    const profile = await testProfile('minor');
    const { exit } = await kiosk(testCard(profile), 'auth', { 'auth PIN': profile.pins.auth.value });
    expect(exit).toBe(EXIT.ok);
  });
});

describe('card errors', () => {
  it('a card without the JPKI application: exit 6, nothing else sent', async () => {
    const channel = { transmit: async () => Uint8Array.of(0x6a, 0x82) };
    const io = scriptedIo({});
    expect(await runKiosk(channel, io, { key: 'auth', challenge: CHALLENGE })).toBe(EXIT.cardError);
    expect(io.lines.join('\n')).toContain('not a My Number Card');
  });

  it('a transport failure: exit 6, reported as a communication error', async () => {
    const channel = {
      transmit: async () => {
        throw new Error('reader gone');
      },
    };
    const io = scriptedIo({});
    expect(await runKiosk(channel, io, { key: 'auth', challenge: CHALLENGE })).toBe(EXIT.cardError);
    expect(io.lines.join('\n')).toContain('reader gone');
  });
});
