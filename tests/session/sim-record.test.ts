/**
 * `myna-hil run --target sim --record`: one session per scenario, with the header a replay needs, the
 * harness's own commands marked, and a replay on the same profile without divergence; on a profile with
 * `behaviour.unknownAidSw` changed the replay names that SELECT and its section.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../simulator/apdu/codec.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { authCertHash, testCard, testProfile } from '../support/card.ts';
import { cli } from '../support/cli.ts';
import { sessionsIn, type SuiteDir, writeSuite } from './fixtures.ts';

const VERSION = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version as string;

describe('run --target sim --record', () => {
  let profile: Profile;
  let s: SuiteDir;
  beforeAll(async () => {
    profile = await testProfile();
    s = writeSuite(profile, { unknownAidSw: '6A86' });
  });

  it('writes one session per scenario, named from suite and scenario, with the card, target and harness version', async () => {
    const r = await cli('run', s.suite, '--target', 'sim', '--reporter', 'json', '--out', join(s.dir, 'out'), '--record');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const [session, ...more] = sessionsIn(join(s.dir, 'out', 'sessions'));
    expect(more).toEqual([]);
    expect(session.file).toBe('suite--session-001.jsonl');
    const certSha = authCertHash(profile);
    expect(session.header).toMatchObject({
      type: 'header',
      format: 'myna-hil/session',
      version: 1,
      target: 'sim',
      harness: { name: 'myna-hil', version: VERSION },
      atr: toHex(testCard(profile).atr()),
      card: { authCertSha256: certSha, profile: s.profile },
      scenario: { file: s.suite, name: 'signs with the auth key, then selects an unknown application' },
    });
    // the run report says the same version (it said 0.0.0 before)
    expect(readFileSync(join(s.dir, 'out', 'run.jsonl'), 'utf8')).toContain(`"harnessVersion":"${VERSION}"`);
    const commands = session.events.filter((e) => e.type === 'command');
    expect(commands.length).toBeGreaterThan(5);
    expect(new Set(commands.map((c) => c.by))).toEqual(new Set(['harness']));
    const verify = commands.find((c) => c.apdu.startsWith('00200080') && c.masked);
    expect(verify).toEqual(expect.objectContaining({ apdu: '00200080', masked: true }));
    const unknown = commands.find((c) => c.apdu === '00A4040C05A000000099')!;
    expect(session.events).toContainEqual(expect.objectContaining({ type: 'response', seq: unknown.seq, apdu: '6A82' }));
  }, 60_000);

  it('a --record directory that cannot be made: exit 2 naming --record and the fix, before any scenario runs', async () => {
    const notADir = join(s.dir, 'suite.yaml', 'sessions'); // under a file
    const r = await cli('run', s.suite, '--target', 'sim', '--reporter', 'json', '--out', join(s.dir, 'out-bad'), '--record', notADir);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain(`--record ${notADir}: cannot write session files there`);
    expect(r.stderr).toContain('fix:');
  }, 60_000);

  it('replays on the same profile without divergence, and on a changed behaviour names that command and its section', async () => {
    const [session] = sessionsIn(join(s.dir, 'out', 'sessions'));
    const file = join(s.dir, 'out', 'sessions', session.file);
    const same = await cli('replay', file, '--card', s.profile);
    expect(same.code, same.stdout + same.stderr).toBe(0);
    expect(same.stdout).toContain('no divergence');
    expect(same.stdout).toContain('the same card as the profile');
    const changed = await cli('replay', file, '--card', join(s.dir, 'changed.json'), '--reporter', 'console,json,html', '--out', join(s.dir, 'replay'));
    expect(changed.code, changed.stdout + changed.stderr).toBe(1);
    expect(changed.stdout).toMatch(/FIRST DIVERGENCE at seq \d+ \(line \d+\): SELECT 00 A4 04 0C 05 A0 00 00 00 99/);
    expect(changed.stdout).toContain('recorded: 6A82');
    expect(changed.stdout).toContain('replayed: 6A86');
    expect(changed.stdout).toContain('spec:     docs/card.md §5 (SELECT)');
    const json = JSON.parse(readFileSync(join(s.dir, 'replay', 'replay.json'), 'utf8'));
    expect(json.divergences).toHaveLength(1);
    expect(json.firstDivergence).toMatchObject({ name: 'SELECT', recorded: { sw: '6A82' }, replayed: { sw: '6A86' } });
    expect(readFileSync(join(s.dir, 'replay', 'replay.html'), 'utf8')).toContain('FIRST DIVERGENCE: seq');
  }, 60_000);
});
