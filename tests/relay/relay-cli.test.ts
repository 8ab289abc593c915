/**
 * The relay's command line and the runner's `relay` target, as a user runs them (bin/myna-hil.mjs), with
 * the stand-in card (the simulator served by this test into vpcd slot 1) as the physical card and the
 * relay on slot 0. Exit codes: 2 bad input, 3 the environment, 4 a guard refusal or a card not allowed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { resetCounter } from '../../simulator/issuer/issuer.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { openPcsc, type PcscContext, vpcdReaderName } from '../../harness/pcsc/index.ts';
import { authCertHash, testProfile, labPinEnv } from '../support/card.ts';
import { BIN, cliWith } from '../support/cli.ts';
import { describeOpensc, OPENSC_MODULE, openscMissing } from '../support/opensc.ts';
import { acquirePcscLock } from '../support/pcsc-env.ts';
import { AID, serveRealCard, type ServedCard, txHex, verifyApdu, wrongPin } from '../support/real-card.ts';
import { waitFor } from '../support/wait.ts';

const R0 = vpcdReaderName(0);
const R1 = vpcdReaderName(1);
const PHYSICAL = '^Virtual PCD 00 01$';

describeOpensc(['/usr/bin/pkcs11-tool'], 'myna-hil relay and myna-hil run --target relay (the stand-in card in slot 1)', () => {
  let release: () => void = () => {};
  let ctx: PcscContext;
  let profile: Profile;
  let standIn: ServedCard;
  let hash: string;
  let dir: string;
  let labEnv: Record<string, string>;

  beforeAll(async () => {
    const why = openscMissing(['/usr/bin/pkcs11-tool']);
    if (why) throw new Error(`OpenSC is needed: ${why}`);
    release = await acquirePcscLock();
    profile = await testProfile('adult');
    hash = authCertHash(profile);
    labEnv = labPinEnv(profile);
    dir = mkdtempSync(join(tmpdir(), 'myna-relay-cli-'));
    ctx = await openPcsc();
    await ctx.waitForCard(R0, 'absent', { timeoutMs: 10_000 });
    standIn = await serveRealCard(profile, { slot: 1 });
    await ctx.waitForCard(R1, 'present');
  }, 300_000);

  afterAll(async () => {
    await standIn?.stop();
    await ctx?.waitForCard(R1, 'absent').catch(() => {});
    await ctx?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    release();
  });

  it('bad input exits 2, a reader regex matching none exits 3 with the readers listed, a card not allowed exits 4 with no virtual card', {
    timeout: 120_000,
  }, async () => {
    const bad = await cliWith({ timeoutMs: 30_000 }, 'relay', '--reader', PHYSICAL, '--refuse-sw', 'zz');
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toContain('--refuse-sw zz: expected 4 hex digits');
    const none = await cliWith({ timeoutMs: 30_000 }, 'relay', '--reader', '^no such reader$', '--allow-card', hash);
    expect(none.code, none.stderr).toBe(3);
    expect(none.stderr).toContain(`matches no reader; it must match exactly one (readers: "${R1}")`);
    const deniedRecord = join(dir, 'denied.jsonl');
    const denied = await cliWith({ timeoutMs: 30_000 }, 'relay', '--reader', PHYSICAL, '--allow-card', '11'.repeat(32), '--record', deniedRecord);
    expect(denied.code, denied.stderr).toBe(4);
    expect(existsSync(deniedRecord), 'no session file when nothing was relayed').toBe(false);
    expect(denied.stderr).toContain(`has SHA-256 ${hash}, which is not in the allow-list`);
    expect(ctx.readerState(R0)?.present).toBe(false);
  });

  it('myna-hil relay serves the card on slot 0 until SIGTERM, logs the guard refusal (no PIN) and exits 4', async () => {
    const child = spawn(process.execPath, [BIN, 'relay', '--reader', PHYSICAL, '--slot', '0', '--allow-card', hash], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await ctx.waitForCard(R0, 'present', { timeoutMs: 20_000 });
      const h = await ctx.connect(R0);
      try {
        expect(await txHex(h, `00A4040C0A${AID.jpki}`)).toBe('9000');
        expect(await txHex(h, '00A4020C020018')).toBe('9000');
        const wrong = verifyApdu(wrongPin(profile.pins.auth.value));
        expect([await txHex(h, wrong), await txHex(h, wrong)]).toEqual(['63C2', '6983']);
      } finally {
        await h.disconnect('leave');
      }
      await waitFor(() => /guard refused/.test(err), { what: 'the refusal in the log' });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, err).toBe(4);
    expect(err).toContain('relay: guard refused: auth PIN has 2 tries left');
    expect(err).toMatch(/stopped; the guard refused 1 time\(s\)/);
    expect(err).not.toContain('synchronous card I/O unavailable'); // the command's fast path (harness/pcsc/direct.ts) was taken
    expect(err).not.toContain(profile.pins.auth.value);
    expect(standIn.card.pin('auth').remaining).toBe(2);
    await ctx.waitForCard(R0, 'absent');
    resetCounter(standIn.card, 'auth');
  }, 60_000);

  it('myna-hil run --target relay: pkcs11-tool trying a wrong PIN again is stopped at 2 tries left; the run fails with exit 4 and the guard message', async () => {
    writeFileSync(
      join(dir, 'clients.yaml'),
      [
        'version: 1',
        'clients:',
        '  wrong-login:',
        '    exec:',
        '      command: pkcs11-tool',
        `      args: [--module, ${OPENSC_MODULE}, --slot-description, "{reader}", --login, --pin, "{pins.wrong.auth}", --list-objects]`,
        '      env: { LC_ALL: C }',
        '      timeout: 30s',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'wrong.yaml'),
      [
        'version: 1',
        'scenarios:',
        '  - name: a client that keeps trying a wrong auth PIN',
        '    steps:',
        '      - client: wrong-login',
        '        expect: { exit: 1, card: { auth: { triesLeft: 2 } } }',
        '      - client: wrong-login',
        '        expect: { exit: 1 }',
      ].join('\n'),
    );
    const r = await cliWith(
      { env: labEnv, timeoutMs: 120_000 },
      'run',
      join(dir, 'wrong.yaml'),
      '--clients',
      join(dir, 'clients.yaml'),
      '--target',
      'relay',
      '--reader',
      PHYSICAL,
      '--slot',
      '0',
      '--allow-card',
      hash,
      '--reporter',
      'console',
      '--out',
      join(dir, 'reports'),
    );
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stdout).toContain('guard refused: auth PIN has 2 tries left');
    expect(r.stdout).toMatch(/^ {6}\S+wrong\.yaml:\d+:\d+: guard refused: /m); // its place once
    expect(r.stdout).not.toMatch(/(wrong\.yaml:\d+:\d+): \S*\1/);
    expect(r.stdout + r.stderr).not.toContain(profile.pins.auth.value);
    expect(standIn.card.pin('auth').remaining).toBe(2);
    resetCounter(standIn.card, 'auth');
  }, 150_000);

  it('run --floor 3 --refuse-sw 6982 reach the relay: the first wrong PIN is refused at 3 tries left and answered 6982; bad values exit 2', async () => {
    const common = ['--clients', join(dir, 'clients.yaml'), '--target', 'relay', '--reader', PHYSICAL, '--slot', '0', '--allow-card', hash];
    const run = (...more: string[]) =>
      cliWith({ env: labEnv, timeoutMs: 120_000 }, 'run', join(dir, 'wrong.yaml'), ...common, '--reporter', 'console', '--out', join(dir, 'reports'), ...more);
    const r = await run('--floor', '3', '--refuse-sw', '6982');
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stdout).toContain('guard refused: auth PIN has 3 tries left');
    expect(r.stdout).toMatch(/> 00 20 00 80 <redacted> \(VERIFY\) < 6982, 0 bytes/);
    expect(standIn.card.pin('auth').remaining).toBe(3);
    const floor = await run('--floor', '16');
    expect([floor.code, floor.stderr.trim()]).toEqual([2, 'myna-hil: --floor 16: tries left are 0..15']);
    const hex = await run('--refuse-sw', 'zz');
    expect([hex.code, hex.stderr.trim()]).toEqual([2, 'myna-hil: --refuse-sw zz: expected 4 hex digits, e.g. 6983']);
    const sw = await run('--refuse-sw', '6100');
    expect(sw.code, sw.stderr).toBe(2);
    expect(sw.stderr).toContain('--refuse-sw 6100: the refusal must be an error status word 6xxx other than 60xx, 61xx and 6Cxx');
    expect(ctx.readerState(R0)?.present).toBe(false); // bad input: no relay was started
  }, 200_000);
});
