/**
 * The faulty twin (examples/kiosk-faulty) does each wrong thing it is meant to show, where the
 * reference kiosk (examples/kiosk) in the same situation does not; both through their `module` form,
 * as the scenario runner drives them.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verify, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ModuleClientContext } from '../../harness/clients/client.ts';
import { run as runFaulty } from '../../examples/kiosk-faulty/module.ts';
import { EXIT } from '../../examples/kiosk/kiosk.ts';
import { DEFAULT_CHALLENGE, run as runReference } from '../../examples/kiosk/module.ts';
import type { VirtualCard } from '../../simulator/card/card.ts';
import { testCard, testProfile } from '../support/card.ts';
import { cardWithTries, isQuery, isVerifyWithData, recorded, scriptedIo, triesLeft, verifyData, wrongDigits } from './support.ts';

type Client = (ctx: ModuleClientContext) => Promise<number>;

/** Runs a module client the way the runner does: its channel, its answers, its log. */
async function drive(client: Client, card: VirtualCard, replies: Record<string, string>, vars: Record<string, string> = {}) {
  const { channel, sent } = recorded(card);
  const io = scriptedIo(replies);
  const exit = await client({ channel, vars, prompt: (t) => io.prompt(t), log: io.print, signal: new AbortController().signal });
  return { exit, sent, io };
}

describe('the module form of the reference kiosk', () => {
  it('signs the default challenge with the auth key and logs the signature', async () => {
    const profile = await testProfile('adult');
    const { exit, io } = await drive(runReference, testCard(profile), { 'auth PIN': profile.pins.auth.value });
    expect(exit).toBe(EXIT.ok);
    const hex = io.lines.find((l) => l.startsWith('signature'))?.split(': ')[1] ?? '';
    const cert = new X509Certificate(profile.certificates.auth);
    expect(verify('sha256', Buffer.from(DEFAULT_CHALLENGE), cert.publicKey, Buffer.from(hex, 'hex'))).toBe(true);
  });

  it('takes the key, the challenge file and the output file from the template variables', async () => {
    const profile = await testProfile('adult');
    const dir = mkdtempSync(join(tmpdir(), 'kiosk-'));
    writeFileSync(join(dir, 'challenge'), 'a server nonce');
    const vars = { 'args.key': 'sign', challengeFile: join(dir, 'challenge'), 'args.out': join(dir, 'sig') };
    const { exit, io } = await drive(runReference, testCard(profile), { 'sign password': profile.pins.sign.value }, vars);
    expect(exit).toBe(EXIT.ok);
    expect(io.lines.some((l) => l.startsWith('signature'))).toBe(false);
    const cert = new X509Certificate(profile.certificates.sign as string);
    expect(verify('sha256', Buffer.from('a server nonce'), cert.publicKey, readFileSync(join(dir, 'sig')))).toBe(true);
  });

  it('a bad key or a missing challenge file is a usage error (exit 2) before anything is sent', async () => {
    const profile = await testProfile('adult');
    for (const vars of [{ 'args.key': 'juki' }, { challengeFile: '/nonexistent/challenge' }] as Record<string, string>[]) {
      const { exit, sent, io } = await drive(runReference, testCard(profile), {}, vars);
      expect(exit).toBe(EXIT.usage);
      expect(sent).toEqual([]);
      expect(io.lines[0]).toMatch(/^usage: /);
    }
  });
});

describe('the faulty kiosk does each wrong thing', () => {
  it('retries a wrong auth PIN until the card locks, without a query', async () => {
    const profile = await testProfile('adult');
    const card = testCard(profile);
    const wrong = wrongDigits(profile.pins.auth.value);
    const faulty = await drive(runFaulty, card, { 'auth PIN': wrong });
    expect(faulty.exit).toBe(EXIT.locked);
    expect(faulty.sent.filter(isQuery)).toEqual([]);
    expect(faulty.sent.filter(isVerifyWithData).map((s) => s.sw)).toEqual([0x63c2, 0x63c1, 0x63c0]);
    expect(triesLeft(card, 'auth')).toBe(0);

    const good = testCard(profile);
    expect((await drive(runReference, good, { 'auth PIN': wrong })).exit).toBe(EXIT.wrongPin);
    expect(triesLeft(good, 'auth')).toBe(2);
  });

  it('spends the last try without asking', async () => {
    const profile = await testProfile('adult');
    const card = cardWithTries(profile, { auth: 1 });
    const { sent, io } = await drive(runFaulty, card, { 'auth PIN': wrongDigits(profile.pins.auth.value) });
    expect(io.prompts).toHaveLength(1);
    expect(sent.filter(isVerifyWithData).map((s) => s.sw)).toEqual([0x63c0]);
  });

  it('sends a lower-case sign password to the card, which counts it as wrong', async () => {
    const profile = await testProfile('adult');
    const card = testCard(profile);
    const lower = profile.pins.sign.value.toLowerCase();
    expect(lower).not.toBe(profile.pins.sign.value); // the generated password has letters
    const { sent } = await drive(runFaulty, card, { 'sign password': lower }, { 'args.key': 'sign' });
    const verifies = sent.filter(isVerifyWithData);
    expect(verifyData(verifies[0])).toBe(lower);
    expect(verifies[0].sw).toBe(0x63c4);
    expect(triesLeft(card, 'sign')).toBe(0);
  });

  it('prints the PIN in a debug line', async () => {
    const profile = await testProfile('adult');
    const { exit, io } = await drive(runFaulty, testCard(profile), { 'auth PIN': profile.pins.auth.value });
    expect(exit).toBe(EXIT.ok);
    expect(io.lines.find((l) => l.startsWith('debug:'))).toContain(profile.pins.auth.value);
  });

  it('shares the rest with the reference kiosk: a card without a sign certificate still gives exit 5', async () => {
    const profile = await testProfile('minor');
    const { exit, sent } = await drive(runFaulty, testCard(profile), {}, { 'args.key': 'sign' });
    expect(exit).toBe(EXIT.noSignCertificate);
    expect(sent.filter(isVerifyWithData)).toEqual([]);
  });
});
