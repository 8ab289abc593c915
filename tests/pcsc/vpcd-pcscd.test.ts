/**
 * The vpcd transport and the PC/SC client through the real pcscd (start it with
 * `bash scripts/pcsc-stack.sh start`): test-double cards served into vpcd's two readers.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { openPcsc, vpcdReaderName, type PcscContext } from '../../harness/pcsc/index.ts';
import { VpcdTransport, type VpcdTransportOptions } from '../../simulator/transport/vpcd/transport.ts';
import { acquirePcscLock, describePcsc } from '../support/pcsc-env.ts';
import { EchoCard, FixedSelectCard, TEST_ATR, ThrowingCard } from '../support/test-cards.ts';
import { waitFor } from '../support/wait.ts';

const R0 = vpcdReaderName(0);
const R1 = vpcdReaderName(1);
const SELECT_MF = Uint8Array.of(0x00, 0xa4, 0x00, 0x0c, 0x02, 0x3f, 0x00);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();

describePcsc('vpcd cards through pcscd', () => {
  let release: () => void = () => {};
  let ctx: PcscContext;
  const transports: VpcdTransport[] = [];
  const quiet = { info: () => {}, warn: () => {} };

  async function serve(card: EchoCard, slot: number, opts: Partial<VpcdTransportOptions> = {}) {
    const t = new VpcdTransport({ card, slot, logger: quiet, ...opts });
    transports.push(t);
    await t.start();
    return t;
  }

  beforeAll(async () => {
    release = await acquirePcscLock();
    ctx = await openPcsc();
    // A previous test file (or run) may have left a card in a reader: wait until both are empty.
    for (const r of [R0, R1]) await ctx.waitForCard(r, 'absent', { timeoutMs: 10_000 });
  }, 300_000);

  afterEach(async () => {
    await ctx.disconnectAll();
    for (const t of transports.splice(0)) await t.stop();
    for (const r of [R0, R1]) await ctx.waitForCard(r, 'absent', { timeoutMs: 10_000 });
  });

  afterAll(async () => {
    for (const t of transports.splice(0)) await t.stop();
    await ctx?.close();
    release();
  });

  it('lists both vpcd readers', async () => {
    const readers = await ctx.listReaders();
    expect(readers).toContain(R0);
    expect(readers).toContain(R1);
  });

  it('sees the card present with its ATR, transmits, and sees removal and insertion as state changes', async () => {
    const card = new FixedSelectCard();
    const t = await serve(card, 0);
    const present = await ctx.waitForCard(R0, 'present');
    expect(hex(present.atr)).toBe(hex(TEST_ATR));
    expect(t.status().visible).toBe(true);

    const handle = await ctx.connect(R0);
    expect(handle.protocol).toBe('T1');
    expect(hex(await handle.transmit(SELECT_MF))).toBe('9000');
    expect(hex(await handle.transmit(Uint8Array.of(0x00, 0xb0, 0x00, 0x00, 0x00)))).toBe('6D00');
    expect(card.selected).toBe(true);
    const before = present.eventCount;

    await t.remove();
    const gone = await ctx.waitForCard(R0, 'absent');
    expect(gone.eventCount).toBeGreaterThan(before);
    expect(card.selected).toBe(false); // removal took the power, and the volatile state with it
    await expect(handle.transmit(SELECT_MF)).rejects.toMatchObject({ name: 'PcscError' });
    await handle.disconnect().catch(() => {});

    await t.insert();
    const back = await ctx.waitForCard(R0, 'present');
    expect(hex(back.atr)).toBe(hex(TEST_ATR));
    const again = await ctx.connect(R0);
    expect(hex(await again.transmit(SELECT_MF))).toBe('9000');
    expect(card.apdus).toBe(3); // the same card object, its counter kept (the APDU sent while removed never reached it)
    await again.disconnect('leave');
  });

  it('serves two cards on two slots at once', async () => {
    const a = new EchoCard();
    const b = new FixedSelectCard(undefined, Uint8Array.of(0x3b, 0x80, 0x80, 0x01, 0x01));
    await serve(a, 0);
    await serve(b, 1);
    const [s0, s1] = await Promise.all([ctx.waitForCard(R0, 'present'), ctx.waitForCard(R1, 'present')]);
    expect(hex(s0.atr)).toBe(hex(TEST_ATR));
    expect(hex(s1.atr)).toBe('3B80800101');
    const [h0, h1] = await Promise.all([ctx.connect(R0), ctx.connect(R1)]);
    const [r0, r1] = await Promise.all([h0.transmit(SELECT_MF), h1.transmit(SELECT_MF)]);
    expect(hex(r0)).toBe(`${hex(SELECT_MF)}9000`);
    expect(hex(r1)).toBe('9000');
    expect([a.apdus, b.apdus]).toEqual([1, 1]);
    await Promise.all([h0.disconnect(), h1.disconnect()]);
  });

  it('reconnect with reset / unpower and disconnect with unpower reach the card', async () => {
    const card = new FixedSelectCard();
    await serve(card, 0);
    await ctx.waitForCard(R0, 'present');
    const h = await ctx.connect(R0);
    await h.transmit(SELECT_MF);
    expect(card.selected).toBe(true);

    const resets = card.resets;
    await h.reconnect('reset');
    await waitFor(() => card.resets > resets, { what: 'a RESET from vpcd' });
    expect(card.selected).toBe(false);

    await h.transmit(SELECT_MF);
    const downs = card.powerDowns;
    await h.reconnect('unpower');
    await waitFor(() => card.powerDowns > downs, { what: 'a POWER OFF from vpcd' });
    expect(card.selected).toBe(false);
    expect(hex(await h.transmit(SELECT_MF))).toBe('9000');

    const downs2 = card.powerDowns;
    await h.disconnect('unpower');
    await waitFor(() => card.powerDowns > downs2, { what: 'a POWER OFF after disconnect(unpower)' });
    expect(h.connected).toBe(false);
  });

  it('carries extended-length APDUs and long responses', async () => {
    const card = new EchoCard();
    await serve(card, 1);
    await ctx.waitForCard(R1, 'present');
    const h = await ctx.connect(R1);
    const data = new Uint8Array(4000).map((_, i) => i & 0xff);
    const ext = Uint8Array.from([0x00, 0xd6, 0x00, 0x00, 0x00, data.length >> 8, data.length & 0xff, ...data]);
    const r = await h.transmit(ext);
    expect(r.length).toBe(ext.length + 2);
    expect(hex(r.subarray(r.length - 2))).toBe('9000');
    expect(hex(r.subarray(0, ext.length))).toBe(hex(ext));
    await h.disconnect();
  });

  it('answers 6F00 through PC/SC when the card throws, and the reader keeps working', async () => {
    await serve(new ThrowingCard(), 0);
    await ctx.waitForCard(R0, 'present');
    const h = await ctx.connect(R0);
    expect(hex(await h.transmit(SELECT_MF))).toBe('6F00');
    expect(hex(await h.transmit(SELECT_MF))).toBe('6F00');
    await h.disconnect();
  });

  it('works with the TCP_QUICKACK fix switched off (functionally the same, only slower)', async () => {
    const t = await serve(new EchoCard(), 0, { quickAck: false });
    await ctx.waitForCard(R0, 'present');
    expect(t.status().quickAck.wanted).toBe(false);
    const h = await ctx.connect(R0);
    expect(hex(await h.transmit(SELECT_MF))).toBe(`${hex(SELECT_MF)}9000`);
    await h.disconnect();
  });
});
