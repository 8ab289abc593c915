/**
 * Sessions over real PC/SC: `myna-hil run --target vpcd --record` (the runner's card in vpcd slot 1),
 * and the pcsc target on the stand-in card (the simulator served into "Virtual PCD 00 01" by this test,
 * allow-listed, lab PINs given), recorded, then replayed on the simulator with the same profile (no
 * divergence) and with `behaviour.unknownAidSw` changed (the diff names that SELECT and docs/card.md §5).
 * The stand-in's own `serve --record` session shows the same commands the pcsc target recorded.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { toHex } from '../../simulator/apdu/codec.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { vpcdReaderName } from '../../harness/pcsc/index.ts';
import { type RunningServe, startServe } from '../../harness/serve/serve.ts';
import { authCertHash, testCard, testProfile } from '../support/card.ts';
import { cli } from '../support/cli.ts';
import { acquirePcscLock, describePcsc } from '../support/pcsc-env.ts';
import { type ReadBack, sessionsIn, writeSuite } from './fixtures.ts';

const READER = vpcdReaderName(1);
const commandsOf = (s: ReadBack) => s.events.filter((e) => e.type === 'command').map((e) => (e as { apdu: string }).apdu);

describePcsc('recorded sessions over PC/SC (vpcd slot 1)', () => {
  let release: () => void;
  let profile: Profile;
  beforeAll(async () => {
    release = await acquirePcscLock();
    profile = await testProfile();
  }, 300_000);
  afterAll(() => release?.());

  it('run --target vpcd --record: the session of the card in the reader, the harness commands marked, replayed without divergence', async () => {
    const s = writeSuite(profile);
    const out = join(s.dir, 'out');
    const r = await cli('run', s.suite, '--target', 'vpcd', '--slot', '1', '--reporter', 'console', '--out', out, '--record');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const [session] = sessionsIn(join(out, 'sessions'));
    expect(session.header).toMatchObject({ target: 'vpcd', reader: READER, atr: toHex(testCard(profile).atr()) });
    expect(session.events.some((e) => e.type === 'power-on')).toBe(true);
    const commands = session.events.filter((e) => e.type === 'command');
    expect(commands.length).toBeGreaterThan(5);
    expect(commands.every((c) => c.by === 'harness')).toBe(true);
    const replay = await cli('replay', join(out, 'sessions', session.file), '--card', s.profile);
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
  }, 120_000);

  it('pcsc target on the stand-in card: recorded with the guard, replayed on the same profile (no divergence) and on a changed one (that SELECT)', async () => {
    const s = writeSuite(profile, { unknownAidSw: '6A86' }, false);
    const card = testCard(profile);
    const served = join(s.dir, 'served.jsonl');
    let serve: RunningServe | undefined;
    try {
      serve = await startServe({ card: s.profile, slot: 1, control: join(s.dir, 'control.sock'), record: served }, () => card, {
        out: () => {},
        err: () => {},
      });
      const pins = join(s.dir, 'pins.env');
      writeFileSync(pins, ['auth', 'sign', 'juki', 'kenmen'].map((k) => `${k}=${profile.pins[k as 'auth'].value}`).join('\n'), { mode: 0o600 });
      const hash = authCertHash(profile);
      const out = join(s.dir, 'out');
      const r = await cli(
        'run',
        s.suite,
        '--target',
        'pcsc',
        '--reader',
        `^${READER}$`,
        '--allow-card',
        hash,
        '--pins',
        pins,
        '--reporter',
        'console',
        '--out',
        out,
        '--record',
      );
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const [session] = sessionsIn(join(out, 'sessions'));
      expect(session.header).toMatchObject({ target: 'pcsc', reader: READER, card: { authCertSha256: hash }, atr: toHex(card.atr()) });
      const commands = session.events.filter((e) => e.type === 'command');
      // the guard's tries-left query before the VERIFY it let through, and its event
      const verify = commands.findIndex((c) => c.masked);
      expect(commands[verify - 1]).toMatchObject({ apdu: '00200080', by: 'guard' });
      expect(session.events).toContainEqual(expect.objectContaining({ type: 'guard', event: expect.objectContaining({ type: 'allowed', key: 'auth PIN' }) }));
      expect(commands[0]).toMatchObject({ by: 'harness' }); // the allow-list check reads the auth certificate
      expect(session.text).not.toContain(toHex(Buffer.from(profile.pins.auth.value)));

      await serve.stop();
      serve = undefined;
      // what the stand-in saw is what the target recorded
      const [standIn] = sessionsIn(s.dir).filter((f) => f.file === 'served.jsonl');
      expect(standIn.header).toMatchObject({ target: 'serve', card: { profile: s.profile } });
      expect(commandsOf(standIn)).toEqual(commandsOf(session));

      const file = join(out, 'sessions', session.file);
      const same = await cli('replay', file, '--card', s.profile);
      expect(same.code, same.stdout + same.stderr).toBe(0);
      expect(same.stdout).toContain('no divergence');
      const changed = await cli('replay', file, '--card', join(s.dir, 'changed.json'));
      expect(changed.code, changed.stdout + changed.stderr).toBe(1);
      expect(changed.stdout).toMatch(
        /FIRST DIVERGENCE at seq \d+ \(line \d+\): SELECT 00 A4 04 0C 05 A0 00 00 00 99\n {2}recorded: 6A82 .*\n {2}replayed: 6A86 /,
      );
      expect(changed.stdout).toContain('spec:     docs/card.md §5 (SELECT)');
      expect(changed.stdout).not.toContain('more divergence');
    } finally {
      await serve?.stop();
    }
  }, 180_000);
});
