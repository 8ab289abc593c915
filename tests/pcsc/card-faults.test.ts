/**
 * Faults around the REAL virtual card served through pcscd: a client that vanishes in the middle of
 * an exchange (SIGKILLed while holding the card exclusively, with a command in flight), and pcscd
 * killed and restarted under the served card. In both the card stays usable, with its counters intact,
 * and the simulator is never restarted. (tests/pcsc/vpcd-faults.test.ts does the restart with an
 * echo card; this is the same approach with the real card and a real flow afterwards.)
 *
 * Needs `bash scripts/pcsc-stack.sh start`; the restart test needs a pcscd that script started.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { runFlows, SPEC_FLOWS } from '../../harness/flows/spec-flows.ts';
import { pcscChannel } from '../../harness/pcsc/channel.ts';
import { openPcsc, vpcdReaderName, type PcscCard, type PcscContext } from '../../harness/pcsc/index.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import type { VpcdExchange } from '../../simulator/transport/vpcd/messages.ts';
import { testProfile } from '../support/card.ts';
import { acquirePcscLock, describePcsc, IN_CI, pcscdOwnedByScript, runStackScript, STATE_DIR } from '../support/pcsc-env.ts';
import { AID, describeFailures, hex, serveRealCard, txHex, verifyApdu, wrongPin, type ServedCard } from '../support/real-card.ts';
import { waitFor } from '../support/wait.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const R0 = vpcdReaderName(0);

describePcsc('faults around the real card through pcscd', () => {
  let release: () => void = () => {};
  let ctx: PcscContext | undefined;
  let profile: Profile;
  let served: ServedCard;
  const kills: Array<() => void> = [];

  const inputs = () => ({ authPin: profile.pins.auth.value, signPin: profile.pins.sign.value, kenmenPin: profile.pins.kenmen.value });
  const counters = () => (['auth', 'sign', 'kenmen', 'juki', 'common'] as const).map((id) => served.card.pin(id).remaining);
  async function authQuery(h: PcscCard): Promise<string> {
    expect(await txHex(h, `00A4040C0A${AID.jpki}`)).toBe('9000');
    expect(await txHex(h, '00A4020C020018')).toBe('9000');
    return txHex(h, '00200080');
  }

  beforeAll(async () => {
    release = await acquirePcscLock();
    profile = await testProfile('adult');
    ctx = await openPcsc();
    await ctx.waitForCard(R0, 'absent', { timeoutMs: 10_000 });
    served = await serveRealCard(profile, { slot: 0, backoff: { initialMs: 50, maxMs: 250 } });
    await ctx.waitForCard(R0, 'present');
  }, 300_000);

  afterEach(async () => {
    for (const k of kills.splice(0)) k();
    await ctx?.disconnectAll();
    expect(served.warnings).toEqual([]);
  });

  afterAll(async () => {
    for (const k of kills.splice(0)) k();
    await served?.stop();
    await ctx?.waitForCard(R0, 'absent').catch(() => {});
    await ctx?.close();
    release();
  });

  it('a client SIGKILLed mid-exchange (exclusive, a READ BINARY in flight) leaves the card usable, its counters intact', async () => {
    const { card, transport } = served;
    expect(counters()).toEqual([3, 5, 3, 3, 3]);
    const insertions = transport.status().insertions;

    const child = spawn(
      process.execPath,
      [resolve(ROOT, 'bin/run-ts.mjs'), resolve(ROOT, 'tests/support/pcsc-vanishing-client.ts'), R0, wrongPin(profile.pins.auth.value)],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const out: string[] = [];
    for (const s of [child.stdout, child.stderr]) s.on('data', (b: Buffer) => out.push(...b.toString('utf8').split('\n').filter(Boolean)));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    kills.push(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));

    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`the client exited early (${child.exitCode}):\n${out.join('\n')}`);
        return out.includes('reading');
      },
      { timeoutMs: 30_000, what: 'the client to be in its read loop' },
    );
    expect(out).toContain('spent 63C2');

    // Kill it from inside the card's exchange: the card has just executed a READ BINARY, and the
    // client is still waiting in SCardTransmit for the answer.
    let killedAt: string | undefined;
    const onExchange = (e: VpcdExchange) => {
      if (killedAt || e.kind !== 'apdu' || e.command?.[1] !== 0xb0) return;
      killedAt = hex(e.command);
      child.kill('SIGKILL');
    };
    transport.on('exchange', onExchange);
    try {
      expect(await exited).toEqual({ code: null, signal: 'SIGKILL' });
    } finally {
      transport.off('exchange', onExchange);
    }
    expect(killedAt).toMatch(/^00B0/);

    // pcscd drops the dead client's exclusive hold: the next client connects and runs flows.
    const h = await waitFor(() => ctx!.connect(R0), { timeoutMs: 10_000, what: 'a connection once the dead client is gone' });
    expect(await authQuery(h)).toBe('63C2'); // exactly the one try the dead client spent
    expect(counters()).toEqual([2, 5, 3, 3, 3]);
    const results = await runFlows(
      pcscChannel(h),
      SPEC_FLOWS.filter((f) => ['11.1', '11.2', '11.3'].includes(f.id)),
      inputs(),
    );
    expect(describeFailures(results)).toBe('');
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(counters()).toEqual([3, 5, 3, 3, 3]); // 11.1 verified the right PIN: full again
    // The card never left the reader, and nothing reached it that it could not parse.
    expect(transport.status()).toMatchObject({ insertions, protocolErrors: 0, visible: true });
    expect(card.isPowered).toBe(true);
  });

  const owned = pcscdOwnedByScript();
  const restartTest = owned || IN_CI ? it : it.skip;
  restartTest(
    `pcscd restarted, then SIGKILLed and started again, under the served real card: it reappears with its state and flows run, the simulator never restarted${owned || IN_CI ? '' : ' [skipped: the running pcscd was not started by scripts/pcsc-stack.sh]'}`,
    async () => {
      if (!owned) throw new Error('the running pcscd was not started by scripts/pcsc-stack.sh, so this test cannot restart it');
      const { card, transport } = served;
      const h = await ctx!.connect(R0);
      expect(await authQuery(h)).toBe('63C3');
      expect(await txHex(h, verifyApdu(wrongPin(profile.pins.auth.value)))).toBe('63C2');

      const bounce = {
        // The stack script's restart: SIGTERM, wait until gone, start.
        restart: () => runStackScript(['restart'], 60_000).then(() => {}),
        // A crash: SIGKILL (stale files stay in /run/pcscd), wait until the pid is reaped, start.
        kill: async () => {
          const pid = Number(readFileSync(join(STATE_DIR, 'pcscd.pid'), 'utf8').trim().split(/\s+/)[0]);
          expect(pid).toBeGreaterThan(1);
          process.kill(pid, 'SIGKILL');
          await waitFor(() => !existsSync(`/proc/${pid}`), { timeoutMs: 20_000, what: `the killed pcscd ${pid} to be reaped` });
          await runStackScript(['start'], 60_000);
        },
      };
      let spent = 1;
      for (const how of ['restart', 'kill'] as const) {
        const { insertions, connections } = transport.status();
        await ctx!.close(); // its pcscd is going away; a new context is needed afterwards
        ctx = undefined;

        await bounce[how]();
        await waitFor(() => transport.status().insertions > insertions && transport.status().visible, {
          timeoutMs: 15_000,
          what: `the card to be polled by the new pcscd (${how})`,
        });
        expect(transport.status().connections).toBeGreaterThan(connections);

        ctx = await openPcsc();
        const st = await ctx.waitForCard(R0, 'present', { timeoutMs: 10_000 });
        expect(hex(st.atr)).toBe(profile.card.atr);
        const h2 = await ctx.connect(R0);
        expect(await authQuery(h2)).toBe(`63C${3 - spent}`); // the same card object, its counter kept
        if (how === 'restart') {
          // One more before the next bounce, so that each step shows the state carried over.
          expect(await txHex(h2, verifyApdu(wrongPin(profile.pins.auth.value)))).toBe(`63C${2 - spent}`);
          spent++;
        }
      }
      expect(card.pin('auth').remaining).toBe(1);

      const h3 = ctx!.cards()[0];
      const results = await runFlows(
        pcscChannel(h3),
        SPEC_FLOWS.filter((f) => f.id === '11.1'),
        inputs(),
      );
      expect(describeFailures(results)).toBe('');
      expect(card.pin('auth').remaining).toBe(3);
    },
    120_000,
  );
});
