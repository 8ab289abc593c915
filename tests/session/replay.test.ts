/**
 * The replay's rules in process (harness/session/replay.ts): a signature recorded on one card passes on
 * another card's profile by verification with the recorded certificate (its bytes differ), and fails
 * when the recorded signature does not verify; answers the card did not give (an injected status
 * word, a cut answer) are not compared, and a cut command is still sent so that the card's state follows.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../simulator/apdu/codec.ts';
import { generateProfile } from '../../simulator/profile/generate.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { runCardAction } from '../../harness/runner/card-actions.ts';
import { SessionCapture } from '../../harness/session/capture.ts';
import type { SessionEvent } from '../../harness/session/format.ts';
import { readSession } from '../../harness/session/read.ts';
import { FileSink } from '../../harness/session/recorder.ts';
import { replaySession } from '../../harness/session/replay.ts';
import { HostedCard } from '../../harness/targets/card-host.ts';
import type { ApduChannel } from '../../simulator/card/channel.ts';
import { testProfile } from '../support/card.ts';
import { cardFromProfile } from '../../simulator/card/build.ts';
import { inProcessChannel } from '../../simulator/card/channel.ts';
import { learnCard } from '../../harness/learn/read.ts';
import { learnedProfile } from '../../harness/learn/profile.ts';

const where = { file: 't.yaml', line: 1 } as never;
const dir = mkdtempSync(join(tmpdir(), 'myna-hil-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Records `work` on a hosted card of `profile` into `<dir>/<name>.jsonl`. */
async function record(profile: Profile, name: string, work: (host: HostedCard, ch: ApduChannel) => Promise<void>): Promise<string> {
  const file = join(dir, `${name}.jsonl`);
  const host = new HostedCard(profile, name);
  const capture = new SessionCapture(new FileSink(file), { target: 'sim', harnessVersion: 'test' });
  host.record(capture);
  await work(host, { transmit: async (c) => host.faulty.transmit(c, 'harness') });
  capture.close();
  return file;
}

const events = (file: string): SessionEvent[] =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => JSON.parse(l));

/** The response to the session's COMPUTE DIGITAL SIGNATURE. */
function signatureResponse(file: string): Extract<SessionEvent, { type: 'response' }> {
  const ev = events(file);
  const command = ev.find((e) => e.type === 'command' && e.apdu.startsWith('802A'))!;
  return ev.find((e) => e.type === 'response' && e.seq === (command as { seq: number }).seq) as Extract<SessionEvent, { type: 'response' }>;
}

describe('replay', () => {
  let a: Profile;
  let b: Profile;
  let signed: string;
  beforeAll(async () => {
    a = await testProfile();
    b = await generateProfile({ variant: 'adult' }); // another card: other keys, other certificates
    signed = await record(a, 'signed', async (host, ch) => {
      expect((await runCardAction(ch, { do: 'read', app: 'jpki', ef: '000A' }, host.pinValues, where)).sw).toBe(0x9000);
      expect((await runCardAction(ch, { do: 'sign', key: 'auth', value: a.pins.auth.value, data: 'DEADBEEF' }, host.pinValues, where)).sw).toBe(0x9000);
    });
  }, 60_000);

  it('a signature recorded on another card passes by verification with the recorded certificate, not by its bytes', () => {
    const r = replaySession(readSession(signed), { profile: b, profileName: 'b.json' });
    expect(r.sameCard).toBe(false);
    expect(r.divergences).toEqual([]);
    expect(r.notes).toEqual([]);
    expect(r.compared).toBeGreaterThan(4);
    // the bytes differ: the other card's key signs differently
    expect(signatureResponse(signed).apdu).toMatch(/^[0-9A-F]{512}9000$/);
    expect(new HostedCard(b, 'b').authCertSha256).not.toBe(new HostedCard(a, 'a').authCertSha256);
  });

  it('a recorded signature that does not verify is the divergence, named with its section', () => {
    const lines = readFileSync(signed, 'utf8').split('\n');
    const seq = signatureResponse(signed).seq;
    const i = lines.findIndex((l) => l.includes('"type":"response"') && JSON.parse(l).seq === seq);
    const e = JSON.parse(lines[i]);
    const raw = fromHex(e.apdu);
    raw[10] ^= 0x01;
    lines[i] = JSON.stringify({ ...e, apdu: toHex(raw) });
    const tampered = join(dir, 'tampered.jsonl');
    writeFileSync(tampered, lines.join('\n'));
    for (const profile of [a, b]) {
      const r = replaySession(readSession(tampered), { profile, profileName: 'p' });
      expect(r.divergences).toHaveLength(1);
      expect(r.divergences[0]).toMatchObject({
        name: 'COMPUTE DIGITAL SIGNATURE',
        section: 'docs/card.md §6 (signing)',
        why: 'the recorded signature does not verify with the recorded auth certificate',
        line: i, // the command is on the line before its response (lines are 1-based)
      });
    }
  });

  it('on the same card, data is compared byte for byte: another card read as the same is a divergence', () => {
    const lines = readFileSync(signed, 'utf8').split('\n');
    const header = JSON.parse(lines[0]);
    header.card.authCertSha256 = new HostedCard(b, 'b').authCertSha256; // claims to be card b
    const claimed = join(dir, 'claimed.jsonl');
    writeFileSync(claimed, [JSON.stringify(header), ...lines.slice(1)].join('\n'));
    const r = replaySession(readSession(claimed), { profile: b, profileName: 'b' });
    expect(r.sameCard).toBe(true);
    expect(r.divergences[0]).toMatchObject({ name: 'READ BINARY', section: 'docs/card.md §8 (reading files)' });
  });

  it('answers the card did not give are not compared; a cut command is sent so that the state follows', async () => {
    const file = await record(a, 'faults', async (host, ch) => {
      await runCardAction(ch, { do: 'select', app: 'jpki' }, host.pinValues, where);
      host.fault({ type: 'inject-sw', sw: '6A82', match: { ins: 'A4' }, times: 1 });
      await ch.transmit(fromHex('00A4020C02000A')); // answered 6A82 by the fault: the card stays on no EF
      host.fault({ type: 'cut-response', bytes: 0 });
      await ch.transmit(fromHex('00A4020C020018')); // the card selects the auth PIN EF; its answer is lost
      expect(toHex(await ch.transmit(fromHex('00200080')))).toBe('63C3'); // only with 0018 selected
    });
    const ev = events(file);
    expect(ev).toContainEqual(expect.objectContaining({ type: 'fault', seq: 2, reachedCard: false }));
    expect(ev).toContainEqual(expect.objectContaining({ type: 'response', seq: 2, apdu: '6A82', from: 'fault' }));
    expect(ev).toContainEqual(expect.objectContaining({ type: 'fault', seq: 3, reachedCard: true }));
    expect(ev).toContainEqual(expect.objectContaining({ type: 'no-response', seq: 3 }));
    const r = replaySession(readSession(file), { profile: a, profileName: 'a' });
    expect(r.divergences).toEqual([]);
    expect(r.skipped.map((s) => [s.seq, s.why])).toEqual([
      [2, 'answered by the fault, not the card: not sent'],
      [3, 'no answer recorded (response cut to 0 of 2 bytes (fault)): sent, not compared'],
    ]);
  });

  it('a correct VERIFY whose answer was cut is replayed with the right value: the card verified, its tries stay', async () => {
    const file = await record(a, 'cut-verify', async (host, ch) => {
      await runCardAction(ch, { do: 'select', app: 'jpki' }, host.pinValues, where);
      await ch.transmit(fromHex('00A4020C020018'));
      const wrong = a.pins.auth.value === '0000' ? '1111' : '0000';
      expect(toHex(await ch.transmit(fromHex(`0020008004${toHex(Buffer.from(wrong))}`)))).toBe('63C2');
      host.fault({ type: 'cut-response', bytes: 0 });
      expect(await ch.transmit(fromHex(`0020008004${toHex(Buffer.from(a.pins.auth.value))}`))).toHaveLength(0); // 9000, cut
      expect(toHex(await ch.transmit(fromHex('00200080')))).toBe('63C3'); // the right value restored the tries
    });
    const ev = events(file);
    expect(ev).toContainEqual(expect.objectContaining({ type: 'fault', seq: 4, reachedCard: true, cardSw: '9000' }));
    expect(readFileSync(file, 'utf8')).not.toContain(toHex(Buffer.from(a.pins.auth.value)));
    const r = replaySession(readSession(file), { profile: a, profileName: 'a' });
    expect(r.divergences).toEqual([]);
    expect(r.compared).toBe(4);
  });

  it('masked VERIFY: the profile value where the card said 9000, a wrong value where it counted a try; RESET RETRY COUNTER is not replayable', async () => {
    const file = await record(a, 'pins', async (host, ch) => {
      await runCardAction(ch, { do: 'select', app: 'jpki' }, host.pinValues, where);
      await ch.transmit(fromHex('00A4020C020018'));
      const wrong = a.pins.auth.value === '0000' ? '1111' : '0000';
      expect(toHex(await ch.transmit(fromHex(`0020008004${toHex(Buffer.from(wrong))}`)))).toBe('63C2');
      expect(toHex(await ch.transmit(fromHex('00200080')))).toBe('63C2');
      expect(toHex(await ch.transmit(fromHex(`0020008004${toHex(Buffer.from(a.pins.auth.value))}`)))).toBe('9000');
      await ch.transmit(fromHex('002C00800400000000')); // the issuer's command: no public shape
    });
    const r = replaySession(readSession(file), { profile: a, profileName: 'a' });
    expect(r.divergences).toEqual([]);
    expect(r.compared).toBe(5);
    expect(r.notReplayable).toEqual([
      expect.objectContaining({ command: '00 2C 00 80', why: expect.stringContaining('docs/card.md §4.3 gives no public shape for it') }),
    ]);
  });
});

describe('replay on a learned profile (docs/card-learn.md: the card the lab recorded on, with keys of its own)', () => {
  it('a session of the learned card replays without divergence: the simulator signs with its own key, not the certificate’s', async () => {
    const a = await testProfile();
    const signed = await record(a, 'learned-source', async (host, ch) => {
      expect((await runCardAction(ch, { do: 'read', app: 'jpki', ef: '000A' }, host.pinValues, where)).sw).toBe(0x9000);
      expect((await runCardAction(ch, { do: 'sign', key: 'auth', value: a.pins.auth.value, data: 'DEADBEEF' }, host.pinValues, where)).sw).toBe(0x9000);
    });
    const card = cardFromProfile(a, { faults: 'throw' });
    const learned = learnedProfile(await learnCard(inProcessChannel(card), card.atr()), await generateProfile(), {
      reader: 'in-process',
      at: new Date('2026-01-02T03:04:05Z'),
      baseSource: 'base',
    });
    const r = replaySession(readSession(signed), { profile: learned, profileName: 'learned.json' });
    expect(r.sameCard).toBe(true); // the learned profile carries the card's auth certificate
    expect(r.divergences).toEqual([]);
    expect(r.compared).toBeGreaterThan(4);
  }, 60_000);
});
