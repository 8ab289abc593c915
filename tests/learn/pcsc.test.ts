/**
 * `myna-hil card learn` through pcscd against the stand-in card: the simulator served into vpcd slot 1
 * ('Virtual PCD 00 01') by this test, standing in for a physical card in a physical reader. The profile
 * written shows the same public files and answers the probes the same; reader regexes matching no
 * reader or two are environment errors (exit 3) naming the readers; an existing --out needs --force.
 *
 * Needs `bash scripts/pcsc-stack.sh start`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { learnCard } from '../../harness/learn/read.ts';
import { pcscChannel } from '../../harness/pcsc/channel.ts';
import { openPcsc, vpcdReaderName, type PcscContext } from '../../harness/pcsc/index.ts';
import { cardFromProfile } from '../../simulator/card/build.ts';
import { inProcessChannel } from '../../simulator/card/channel.ts';
import { generateProfile } from '../../simulator/profile/generate.ts';
import { loadProfile, saveProfile } from '../../simulator/profile/io.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { testProfile } from '../support/card.ts';
import { cli } from '../support/cli.ts';
import { acquirePcscLock, describePcsc } from '../support/pcsc-env.ts';
import { serveRealCard, type ServedCard } from '../support/real-card.ts';
import { publicView } from './support.ts';

const R1 = vpcdReaderName(1);
const SIGN_PIN = 'QZX987LEARN';

describePcsc('card learn on the stand-in card in Virtual PCD 00 01', () => {
  let release: () => void = () => {};
  let ctx: PcscContext | undefined;
  let served: ServedCard | undefined;
  let original: Profile;
  let dir: string;
  let basePath: string;

  beforeAll(async () => {
    release = await acquirePcscLock();
    dir = mkdtempSync(join(tmpdir(), 'myna-learn-'));
    basePath = join(dir, 'base.json');
    saveProfile(basePath, await generateProfile({ signPin: SIGN_PIN, authPin: '4739' }));
    original = structuredClone(await testProfile('adult'));
    Object.assign(original.behaviour, { unknownAidSw: '6A86', certificatePadding: { bytes: 32, byte: 0 }, getData: false, sfiShortForms: false });
    original.pins.auth.remaining = 2;
    ctx = await openPcsc();
    await ctx.waitForCard(R1, 'absent', { timeoutMs: 10_000 });
    served = await serveRealCard(original, { slot: 1 });
    await ctx.waitForCard(R1, 'present', { timeoutMs: 10_000 });
  }, 300_000);

  afterAll(async () => {
    await served?.stop();
    await ctx?.waitForCard(R1, 'absent', { timeoutMs: 10_000 }).catch(() => {});
    await ctx?.close();
    release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes a profile whose public files and probe answers are the stand-in card’s', async () => {
    const out = join(dir, 'lab-card.json');
    const run = await cli('card', 'learn', '--reader', R1, '--out', out, '--base', basePath);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/SELECT an unknown AID\s+00 A4 04 0C 07 A0 00 00 00 03 10 10\s+6A86\s+unknownAidSw = 6A86/);
    expect(run.stdout).toMatch(/VERIFY query \(auth PIN tries left\)\s+00 20 00 80\s+63C2\s+pins\.auth\.remaining = 2/);
    expect(run.stdout).toContain('placeholders');
    for (const secret of [SIGN_PIN, Buffer.from(SIGN_PIN).toString('hex').toUpperCase()]) expect(run.stdout + run.stderr).not.toContain(secret);

    const learned = loadProfile(out);
    expect(learned.learned?.reader).toBe(R1);
    expect(learned.behaviour).toMatchObject({ unknownAidSw: '6A86', certificatePadding: { bytes: 32, byte: 0 }, getData: false, sfiShortForms: false });
    expect(learned.pins.auth.remaining).toBe(2);

    const card = await ctx!.connect(R1, { share: 'shared' });
    try {
      const standIn = pcscChannel(card);
      await card.reconnect('reset'); // MF state for the GET DATA the view starts with
      const viewOfStandIn = await publicView(standIn);
      expect(await publicView(inProcessChannel(cardFromProfile(learned)))).toEqual(viewOfStandIn);
      await card.reconnect('reset');
      const probesOfStandIn = (await learnCard(standIn, new Uint8Array())).probes.map((p) => `${p.command} → ${p.answer}`);
      const probesOfLearned = (await learnCard(inProcessChannel(cardFromProfile(learned)), new Uint8Array())).probes.map((p) => `${p.command} → ${p.answer}`);
      expect(probesOfLearned).toEqual(probesOfStandIn);
    } finally {
      await card.disconnect('leave');
    }
  }, 60_000);

  it('a --reader matching no reader or two readers: exit 3, naming the readers', async () => {
    const none = await cli('card', 'learn', '--reader', 'No Such Reader', '--out', join(dir, 'none.json'));
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(
      /--reader \/No Such Reader\/ matches no reader; it must match exactly one \(readers: .*"Virtual PCD 00 00".*"Virtual PCD 00 01"/,
    );
    const two = await cli('card', 'learn', '--reader', '^Virtual PCD', '--out', join(dir, 'two.json'));
    expect(two.code).toBe(3);
    expect(two.stderr).toMatch(/matches 2 readers \("Virtual PCD 00 00", "Virtual PCD 00 01"\)/);
    expect(existsSync(join(dir, 'none.json')) || existsSync(join(dir, 'two.json'))).toBe(false);
  }, 60_000);

  it('an existing --out without --force: exit 2 and the file untouched; with --force it is replaced', async () => {
    const out = join(dir, 'existing.json');
    writeFileSync(out, 'keep me');
    const refused = await cli('card', 'learn', '--reader', R1, '--out', out);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${out}: the file exists; refusing to overwrite it (fix: add --force, or choose another --out)`);
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    const forced = await cli('card', 'learn', '--reader', R1, '--out', out, '--base', basePath, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(loadProfile(out).card.atr).toBe(original.card.atr);
  }, 60_000);
});

describe('card learn input errors, before PC/SC is touched', () => {
  it('a --reader that is not a regular expression: exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'myna-learn-'));
    try {
      const run = await cli('card', 'learn', '--reader', '(', '--out', join(dir, 'x.json'));
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/--reader \(: not a regular expression/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
