/**
 * `myna-hil run --target relay --record`: one session per scenario, recorded by the relay in front of
 * the stand-in card (the simulator served by this test into vpcd slot 1, 'Virtual PCD 00 01', as the
 * physical card; the relay on slot 0). OpenSC's pkcs11-tool signs through the relay (the manifest of
 * scenarios/opensc, the PIN typed at its prompt). The session names the relay, the stand-in's ATR and
 * auth certificate; its exchanges are the stand-in's own; it replays on the stand-in's profile with no
 * divergence, and on the same profile with `behaviour.unknownAidSw: 6A86` it does not: OpenSC's card
 * detection selects applications the card does not have (answered 6A82), and the diff names the first.
 *
 * Why not `reselectClearsVerified` (docs/card.md §9.2): OpenSC logs out by selecting the JPKI AP again
 * only from 0.24.0; Debian 12's 0.23 does not, and no command of this session answers differently with
 * it (an empty VERIFY answers 63 Cx whether or not the PIN is verified, docs/card.md §4.2).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { toHex } from '../../simulator/apdu/codec.ts';
import { saveProfile } from '../../simulator/profile/io.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import type { VpcdExchange } from '../../simulator/transport/vpcd/messages.ts';
import { openPcsc, type PcscContext, vpcdReaderName } from '../../harness/pcsc/index.ts';
import type { SessionLine } from '../../harness/session/format.ts';
import { authCertHash, testProfile, labPinEnv } from '../support/card.ts';
import { cliWith } from '../support/cli.ts';
import { describeOpensc, openscMissing } from '../support/opensc.ts';
import { acquirePcscLock } from '../support/pcsc-env.ts';
import { serveRealCard, type ServedCard } from '../support/real-card.ts';
import { type ReadBack, sessionsIn } from '../session/fixtures.ts';
import { recordedTrace, standInTrace } from './traces.ts';

const R0 = vpcdReaderName(0);
const R1 = vpcdReaderName(1);
const TOOLS = ['/usr/bin/pkcs11-tool'];

const SUITE = `version: 1
scenarios:
  - name: OpenSC signs with the auth key through the relay
    id: RELAY-REC-001
    steps:
      - client: sign-with-auth-key
        answers:
          - { prompt: PIN, reply: "{pins.auth}" }
        expect: { exit: 0 }
  - name: the harness reads the auth certificate
    id: RELAY-REC-002
    steps:
      - card: { read: '000A', app: jpki }
`;

describeOpensc(TOOLS, 'run --target relay --record: a session per scenario, replayed on the simulator', () => {
  let release: () => void = () => {};
  let ctx: PcscContext;
  let profile: Profile;
  let standIn: ServedCard;
  let dir: string;
  let session: ReadBack;
  let second: ReadBack;
  let sessionFile: string;
  const seen: VpcdExchange[] = [];

  beforeAll(async () => {
    const why = openscMissing(TOOLS);
    if (why) throw new Error(`OpenSC is needed: ${why}`);
    release = await acquirePcscLock();
    profile = await testProfile('adult');
    dir = mkdtempSync(join(tmpdir(), 'myna-relay-record-'));
    saveProfile(join(dir, 'profile.json'), profile);
    saveProfile(join(dir, 'changed.json'), { ...profile, behaviour: { ...profile.behaviour, unknownAidSw: '6A86' } });
    writeFileSync(join(dir, 'sign.yaml'), SUITE);
    ctx = await openPcsc();
    await ctx.waitForCard(R0, 'absent', { timeoutMs: 10_000 });
    await ctx.waitForCard(R1, 'absent', { timeoutMs: 10_000 });
    standIn = await serveRealCard(profile, { slot: 1 });
    standIn.transport.on('exchange', (e) => seen.push(e));
    await ctx.waitForCard(R1, 'present');
  }, 300_000);

  afterAll(async () => {
    await standIn?.stop();
    await ctx?.waitForCard(R1, 'absent').catch(() => {});
    await ctx?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    release();
  });

  it('run --target relay --record writes the session: target relay, the physical reader, the ATR and auth certificate of the stand-in', async () => {
    const hash = authCertHash(profile);
    const env = labPinEnv(profile);
    const out = join(dir, 'reports');
    const r = await cliWith(
      { env, timeoutMs: 120_000 },
      'run',
      join(dir, 'sign.yaml'),
      '--clients',
      'scenarios/opensc/clients.yaml',
      '--target',
      'relay',
      '--reader',
      `^${R1}$`,
      '--slot',
      '0',
      '--allow-card',
      hash,
      '--reporter',
      'console',
      '--out',
      out,
      '--record',
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const sessions = sessionsIn(join(out, 'sessions'));
    expect(sessions.map((s) => s.file)).toEqual(['sign--relay-rec-001.jsonl', 'sign--relay-rec-002.jsonl']);
    [session, second] = sessions;
    sessionFile = join(out, 'sessions', session.file);
    expect(session.header).toMatchObject({
      target: 'relay',
      reader: R1,
      atr: toHex(standIn.card.atr()),
      card: { authCertSha256: hash },
      scenario: { file: join(dir, 'sign.yaml'), name: 'OpenSC signs with the auth key through the relay' },
    });
    // the allow-list check comes first (the harness's), OpenSC's commands are the client's
    const commands = session.events.filter((e) => e.type === 'command');
    expect(commands[0]).toMatchObject({ apdu: '00A4040C0AD392F000260100000001', by: 'harness' });
    expect(commands.some((c) => c.by === 'client' && c.masked && c.apdu === '00200080')).toBe(true);
    expect(commands.some((c) => c.by === 'client' && c.apdu.startsWith('802A'))).toBe(true);
    expect(session.text).not.toContain(toHex(Buffer.from(profile.pins.auth.value, 'latin1')));
    // the next scenario's session starts with its warm reset and allow-list check, and only the harness's commands
    expect(second.header).toMatchObject({ target: 'relay', reader: R1, atr: toHex(standIn.card.atr()), card: { authCertSha256: hash } });
    expect(second.events[0]).toMatchObject({ type: 'reset' });
    expect(second.events[1]).toMatchObject({ type: 'command', seq: 1, apdu: '00A4040C0AD392F000260100000001', by: 'harness' });
    expect(second.events.every((e) => e.type !== 'command' || e.by === 'harness')).toBe(true);
  }, 150_000);

  it("the two sessions' commands and responses are the stand-in card's own trace, byte for byte, in order", () => {
    const first = recordedTrace(session.events as SessionLine[]);
    expect(first.length).toBeGreaterThan(20);
    expect([...first, ...recordedTrace(second.events as SessionLine[])]).toEqual(standInTrace(seen));
  });

  it("replays on the stand-in's profile with no divergence (exit 0)", async () => {
    const same = await cliWith({ timeoutMs: 60_000 }, 'replay', sessionFile, '--card', join(dir, 'profile.json'));
    expect(same.code, same.stdout + same.stderr).toBe(0);
    const answers = recordedTrace(session.events as SessionLine[]).length;
    expect(answers).toBeGreaterThan(20);
    expect(same.stdout).toContain(`: ${answers} answers compared;`);
    expect(same.stdout).toContain('no divergence');
  }, 90_000);

  it("replays on the profile with unknownAidSw 6A86 with exit 1, the diff naming OpenSC's first SELECT of an unknown AID and docs/card.md §5", async () => {
    const changed = await cliWith({ timeoutMs: 60_000 }, 'replay', sessionFile, '--card', join(dir, 'changed.json'));
    expect(changed.code, changed.stdout + changed.stderr).toBe(1);
    // the first command the card answered 6A82: a client's SELECT by AID (OpenSC probing for its drivers)
    const at = session.events.findIndex((e) => e.type === 'response' && e.apdu === '6A82');
    const seq = (session.events[at] as { seq: number }).seq;
    const command = session.events.find((e) => e.type === 'command' && e.seq === seq) as { apdu: string; by: string };
    expect(command).toMatchObject({ apdu: expect.stringMatching(/^00A40400/), by: 'client' });
    const spaced = command.apdu.match(/../g)!.join(' ');
    const line = session.events.indexOf(command as never) + 2; // line 1 is the header
    expect(changed.stdout).toContain(
      [
        `FIRST DIVERGENCE at seq ${seq} (line ${line}): SELECT ${spaced}`,
        '  recorded: 6A82 (FILE_NOT_FOUND)',
        '  replayed: 6A86 (INCORRECT_P1P2)',
        '  why:      status words differ',
        '  spec:     docs/card.md §5 (SELECT), §9.2-§9.3',
      ].join('\n'),
    );
  }, 90_000);
});
