/**
 * The vpcd transport with an asynchronous card (simulator/card/types.ts AsyncSmartCard, the relay's):
 * one message at a time (the next frame waits for the previous reply), a rejection answered as a throw
 * is (6F 00), a rejection named PowerLoss closing the connection, and the queue still capped while the
 * card takes its time. Every wait is on state, with a deadline.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AsyncSmartCard } from '../../simulator/card/types.ts';
import { VpcdControl, VpcdResponder } from '../../simulator/transport/vpcd/messages.ts';
import { VpcdTransport } from '../../simulator/transport/vpcd/transport.ts';
import { FakeVpcdServer } from '../support/fake-vpcd.ts';
import { TEST_ATR } from '../support/test-cards.ts';
import { nextEvent, waitFor } from '../support/wait.ts';

/** A card that answers only when the test says so: each transmit waits on its own promise. */
class DeferredCard implements AsyncSmartCard {
  readonly pending: Array<{ command: Uint8Array; answer(r: Uint8Array): void; fail(err: Error): void }> = [];
  readonly power: string[] = [];
  atr(): Promise<Uint8Array> {
    return Promise.resolve(TEST_ATR);
  }
  async powerUp(): Promise<void> {
    this.power.push('up');
  }
  async powerDown(): Promise<void> {
    this.power.push('down');
  }
  async reset(): Promise<void> {
    this.power.push('reset');
  }
  transmit(command: Uint8Array): Promise<Uint8Array> {
    return new Promise((answer, fail) => this.pending.push({ command, answer, fail }));
  }
}

const powerLoss = (): Error => Object.assign(new Error('physical card removed mid-APDU'), { name: 'PowerLoss' });
const apdu = (n: number) => Uint8Array.of(0x00, 0xb0, 0x00, n, 0x00);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(maxQueuedBytes?: number) {
  const server = new FakeVpcdServer();
  await server.listen();
  const card = new DeferredCard();
  const warnings: string[] = [];
  const transport = new VpcdTransport({
    port: server.port,
    card,
    quickAck: false,
    maxQueuedBytes,
    faultReinsertDelayMs: 60_000, // no reconnection while a test looks at a closed connection
    logger: { info: () => {}, warn: (m) => warnings.push(m) },
  });
  cleanups.push(async () => {
    await transport.stop();
    await server.stop();
  });
  await transport.start();
  const peer = await server.peer(0);
  expect(await peer.getAtr()).toEqual(TEST_ATR);
  return { server, card, transport, peer, warnings };
}

describe('VpcdResponder with an asynchronous card', () => {
  it('answers every message kind with a promise of the same result a synchronous card gives', async () => {
    const card = new DeferredCard();
    const r = new VpcdResponder(card);
    const atr = await r.handle(Uint8Array.of(VpcdControl.GET_ATR));
    expect(atr.ok && atr.exchange.reply).toEqual(TEST_ATR);
    expect(await r.handle(Uint8Array.of(VpcdControl.POWER_ON))).toMatchObject({ ok: true, exchange: { kind: 'power-on' } });
    expect(r.isPowered).toBe(true);
    expect(await r.handle(Uint8Array.of(VpcdControl.RESET))).toMatchObject({ ok: true, exchange: { kind: 'reset' } });
    expect(await r.handle(Uint8Array.of(VpcdControl.POWER_OFF))).toMatchObject({ ok: true, exchange: { kind: 'power-off' } });
    expect(r.isPowered).toBe(false);
    expect(card.power).toEqual(['up', 'reset', 'down']);
    const pending = r.handle(apdu(1));
    card.pending[0].answer(Uint8Array.of(0x01, 0x90, 0x00));
    expect(await pending).toMatchObject({ ok: true, exchange: { kind: 'apdu', reply: Uint8Array.of(0x01, 0x90, 0x00) } });
  });

  it('a rejected transmit is answered 6F 00 with a fault; a rejection named PowerLoss closes', async () => {
    const card = new DeferredCard();
    const r = new VpcdResponder(card);
    const failed = r.handle(apdu(1));
    card.pending[0].fail(new Error('SCARD_E_NOT_TRANSACTED'));
    const res = await failed;
    expect(res.ok && res.exchange.reply).toEqual(Uint8Array.of(0x6f, 0x00));
    expect(res.ok && res.exchange.fault).toMatch(/card transmit threw: Error: SCARD_E_NOT_TRANSACTED; sent 6F00/);
    const lost = r.handle(apdu(2));
    card.pending[1].fail(powerLoss());
    expect(await lost).toEqual({ ok: false, reason: 'card lost power mid-command (physical card removed mid-APDU)', cause: 'power-loss' });
  });

  it('a rejected power control is recorded as a fault, the power state still follows vpcd', async () => {
    const card = new DeferredCard();
    card.powerUp = () => Promise.reject(new Error('reconnect failed'));
    const r = new VpcdResponder(card);
    const res = await r.handle(Uint8Array.of(VpcdControl.POWER_ON));
    expect(res).toMatchObject({ ok: true, exchange: { kind: 'power-on', fault: 'card power-on threw: Error: reconnect failed' } });
    expect(r.isPowered).toBe(true);
  });
});

describe('VpcdTransport with an asynchronous card', () => {
  it('takes one frame at a time: the next APDU reaches the card only after the previous reply was written, replies in order', async () => {
    const { card, peer } = await setup();
    for (const n of [1, 2, 3]) peer.push(apdu(n));
    await waitFor(() => card.pending.length === 1, { what: 'the first APDU at the card' });
    // The other two frames are in the process but wait: vpcd has one message in flight.
    await waitFor(() => peer.socket.bytesWritten >= 3 * 7, { what: 'all three frames sent' });
    expect(card.pending.length).toBe(1);
    for (const n of [1, 2, 3]) {
      await waitFor(() => card.pending.length === n, { what: `APDU ${n} at the card` });
      expect(card.pending[n - 1].command).toEqual(apdu(n));
      expect(card.pending.length).toBe(n);
      card.pending[n - 1].answer(Uint8Array.of(n, 0x90, 0x00));
      expect(await peer.nextFrame()).toEqual(Uint8Array.of(n, 0x90, 0x00));
    }
  });

  it('answers a rejected transmit 6F 00 and keeps serving', async () => {
    const { card, peer, warnings } = await setup();
    const reply = peer.request(apdu(1));
    await waitFor(() => card.pending.length === 1, { what: 'the APDU at the card' });
    card.pending[0].fail(new Error('card bug'));
    expect(await reply).toEqual(Uint8Array.of(0x6f, 0x00));
    expect(warnings.some((w) => /card transmit threw: Error: card bug; sent 6F00/.test(w))).toBe(true);
    const next = peer.request(apdu(2));
    await waitFor(() => card.pending.length === 2, { what: 'the second APDU at the card' });
    card.pending[1].answer(Uint8Array.of(0x90, 0x00));
    expect(await next).toEqual(Uint8Array.of(0x90, 0x00));
  });

  it('closes the connection when the card rejects with PowerLoss (vpcd sees a card that died mid-APDU, never a freeze)', async () => {
    const { card, peer, transport } = await setup();
    const lost = nextEvent<[{ reason: string }]>(transport, 'power-loss');
    await peer.send(apdu(1));
    await waitFor(() => card.pending.length === 1, { what: 'the APDU at the card' });
    card.pending[0].fail(powerLoss());
    expect((await lost)[0].reason).toMatch(/physical card removed mid-APDU/);
    await peer.waitClosed();
    expect(peer.received).toBe(0);
  });

  it('caps what piles up while the card is busy: a peer that floods frames is cut off as a protocol error', async () => {
    const { card, peer, transport } = await setup(64);
    peer.push(apdu(0));
    await waitFor(() => card.pending.length === 1, { what: 'the first APDU at the card' });
    const error = nextEvent<[{ reason: string }]>(transport, 'protocol-error');
    for (let n = 1; n <= 20; n++) peer.push(apdu(n)); // 140 bytes, never answered: over the cap of 64
    expect((await error)[0].reason).toMatch(/bytes queued .* over the limit of 64/);
    await peer.waitClosed();
    expect(card.pending.length).toBe(1); // nothing past the busy frame reached the card
    card.pending[0].answer(Uint8Array.of(0x90, 0x00)); // a late answer to a closed connection goes nowhere
    expect(transport.status().connected).toBe(false);
  });

  it('a removal while the card answers drops the late reply', async () => {
    const { card, peer, transport } = await setup();
    await peer.send(apdu(1));
    await waitFor(() => card.pending.length === 1, { what: 'the APDU at the card' });
    await transport.remove();
    card.pending[0].answer(Uint8Array.of(0x90, 0x00));
    await peer.waitClosed();
    expect(peer.received).toBe(0);
    expect(card.power).toEqual([]); // never powered by vpcd here: removal powers nothing down
  });
});
