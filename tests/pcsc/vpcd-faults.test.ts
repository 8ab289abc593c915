/**
 * Faults through the real pcscd: malformed input reaching the card over vpcd, and pcscd restarting
 * under a served card. Needs `bash scripts/pcsc-stack.sh start`; the restart test needs a pcscd that
 * script started (it restarts it with `scripts/pcsc-stack.sh restart`).
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { openPcsc, vpcdReaderName, type PcscContext } from '../../harness/pcsc/index.ts';
import { VpcdTransport } from '../../simulator/transport/vpcd/transport.ts';
import { acquirePcscLock, describePcsc, IN_CI, pcscdOwnedByScript, runStackScript } from '../support/pcsc-env.ts';
import { EchoCard } from '../support/test-cards.ts';
import { waitFor } from '../support/wait.ts';

const R0 = vpcdReaderName(0);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();
const APDU = Uint8Array.of(0x00, 0xa4, 0x00, 0x0c, 0x02, 0x3f, 0x00);

describePcsc('vpcd faults through pcscd', () => {
  let release: () => void = () => {};
  let ctx: PcscContext | undefined;
  const transports: VpcdTransport[] = [];
  const lines: string[] = [];
  const logger = { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`) };

  beforeAll(async () => {
    release = await acquirePcscLock();
    ctx = await openPcsc();
    await ctx.waitForCard(R0, 'absent', { timeoutMs: 10_000 });
  }, 300_000);

  afterEach(async () => {
    for (const t of transports.splice(0)) await t.stop();
    lines.length = 0;
  });

  afterAll(async () => {
    for (const t of transports.splice(0)) await t.stop();
    await ctx?.close();
    release();
  });

  it('a 1-byte command (not vpcd protocol) is rejected and logged; the client sees a removal; the same card comes back', async () => {
    const card = new EchoCard();
    const t = new VpcdTransport({ card, slot: 0, logger });
    transports.push(t);
    await t.start();
    const c = ctx!;
    await c.waitForCard(R0, 'present');
    const h = await c.connect(R0);
    expect(hex(await h.transmit(APDU))).toBe(`${hex(APDU)}9000`);

    // vpcd forwards a 1-byte "APDU" as a 1-byte payload, which the protocol reserves for control codes;
    // 0x05 is none of them. The card closes the connection; pcscd reports what a card dying mid-command
    // looks like (an empty response or a transaction failure), then the removal.
    const outcome = await h.transmit(Uint8Array.of(0x05)).then(
      (r) => `response of ${r.length} bytes`,
      (e: Error) => e.message,
    );
    expect(outcome).toMatch(/response of 0 bytes|Transaction failed|removed/i);
    expect(t.status().protocolErrors).toBe(1);
    expect(lines.some((l) => l.startsWith('warn') && /malformed/.test(l) && /0x05/.test(l))).toBe(true);

    await c.waitForCard(R0, 'absent'); // the card stays out long enough for pcscd to notice
    await c.waitForCard(R0, 'present');
    await h.disconnect().catch(() => {});
    const h2 = await c.connect(R0);
    expect(hex(await h2.transmit(APDU))).toBe(`${hex(APDU)}9000`);
    expect(card.apdus).toBe(2);
    await h2.disconnect();
    await t.stop();
    await c.waitForCard(R0, 'absent');
  });

  const owned = pcscdOwnedByScript();
  const restartTest = owned || IN_CI ? it : it.skip;
  restartTest(
    `pcscd restarted while a card is served: the card reappears without restarting the card${owned || IN_CI ? '' : ' [skipped: the running pcscd was not started by scripts/pcsc-stack.sh]'}`,
    async () => {
      if (!owned) throw new Error('the running pcscd was not started by scripts/pcsc-stack.sh, so this test cannot restart it');
      const card = new EchoCard();
      const t = new VpcdTransport({ card, slot: 0, logger, backoff: { initialMs: 50, maxMs: 250 } });
      transports.push(t);
      await t.start();
      await ctx!.waitForCard(R0, 'present');
      const h = await ctx!.connect(R0);
      await h.transmit(APDU);
      await ctx!.close(); // its pcscd is going away; a new context is needed afterwards
      ctx = undefined;

      await runStackScript(['restart'], 60_000);
      await waitFor(() => t.status().insertions >= 2 && t.status().visible, { timeoutMs: 15_000, what: 'the card to be polled by the new pcscd' });

      ctx = await openPcsc();
      await ctx.waitForCard(R0, 'present', { timeoutMs: 10_000 });
      const h2 = await ctx.connect(R0);
      expect(hex(await h2.transmit(APDU))).toBe(`${hex(APDU)}9000`);
      expect(card.apdus).toBe(2); // the same card object served throughout
      expect(t.status().connections).toBeGreaterThanOrEqual(2);
      await h2.disconnect();
    },
    90_000,
  );
});
