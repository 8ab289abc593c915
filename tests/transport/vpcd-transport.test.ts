/**
 * The vpcd transport over real TCP sockets against an in-test vpcd: normal mode (the card connects
 * to a fake vpcd server) and reversed mode (a fake vpcd client connects to the listening card).
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import net from 'node:net';
import { VpcdTransport, type VpcdTransportOptions } from '../../simulator/transport/vpcd/transport.ts';
import { encodeFrame } from '../../simulator/transport/vpcd/framing.ts';
import { VpcdControl } from '../../simulator/transport/vpcd/messages.ts';
import { connectToCard, FakeVpcdServer, type VpcdPeer } from '../support/fake-vpcd.ts';
import { EchoCard, FixedSelectCard, TEST_ATR, ThrowingCard } from '../support/test-cards.ts';
import { waitFor } from '../support/wait.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function collectingLogger() {
  const lines: string[] = [];
  return { lines, logger: { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`) } };
}

async function serverAndCard(opts: Partial<VpcdTransportOptions> = {}) {
  const server = new FakeVpcdServer();
  await server.listen();
  const card = (opts.card as EchoCard | undefined) ?? new EchoCard();
  const log = collectingLogger();
  const transport = new VpcdTransport({
    port: server.port,
    logger: log.logger,
    backoff: { initialMs: 10, maxMs: 100 },
    faultReinsertDelayMs: 20,
    ...opts,
    card,
  });
  cleanups.push(async () => {
    await transport.stop();
    await server.stop();
  });
  await transport.start();
  const peer = await server.peer(0);
  return { server, card, transport, peer, log };
}

const apdu = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/ /g, ''), 'hex'));

describe('vpcd transport, normal mode (card connects to vpcd)', () => {
  it('connects, becomes visible on the first GET ATR, and answers APDUs', async () => {
    const { transport, peer, card } = await serverAndCard();
    expect(transport.status()).toMatchObject({ connected: true, visible: false, inserted: true });
    expect(await peer.getAtr()).toEqual(TEST_ATR);
    expect(transport.status().visible).toBe(true);
    await peer.control(VpcdControl.POWER_ON);
    expect(await peer.request(apdu('00A4000C023F00'))).toEqual(apdu('00A4000C023F00 9000'));
    await waitFor(() => transport.status().powered);
    expect(card.powerUps).toBe(1);
    expect(transport.status().apdus).toBe(1);
  });

  it('every vpcd message sequence gets exactly the right replies, and nothing else', async () => {
    const { peer, card } = await serverAndCard();
    const message = fc.oneof(
      fc.constantFrom(VpcdControl.POWER_OFF, VpcdControl.POWER_ON, VpcdControl.RESET, VpcdControl.GET_ATR).map((c) => Uint8Array.of(c)),
      fc.uint8Array({ minLength: 2, maxLength: 300 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(message, { maxLength: 15 }), fc.boolean(), async (msgs, coalesce) => {
        const expected: Uint8Array[] = [];
        for (const m of msgs) {
          if (m.length === 1 && m[0] === VpcdControl.GET_ATR) expected.push(TEST_ATR);
          else if (m.length >= 2) expected.push(Uint8Array.from([...m, 0x90, 0x00]));
        }
        // End with a GET ATR: its reply must be the next frame after the expected ones (no stray replies).
        const all = [...msgs, Uint8Array.of(VpcdControl.GET_ATR)];
        expected.push(TEST_ATR);
        if (coalesce) {
          // vpcd is strictly request/response, but controls (no reply) may be coalesced with the next frame.
          await peer.writeRaw(Buffer.concat(all.map((m) => encodeFrame(m))));
        } else {
          for (const m of all) await peer.send(m);
        }
        for (const e of expected) expect(await peer.nextFrame()).toEqual(e);
        expect(peer.received).toBe(0);
      }),
      { numRuns: 40 },
    );
    expect(peer.closed).toBe(false);
    expect(card.apdus).toBeGreaterThan(0);
  });

  it('handles frames split at every byte (length and payload in separate writes, as vpcd 0.8 does)', async () => {
    const { peer } = await serverAndCard();
    const frame = encodeFrame(apdu('00B0000000'));
    for (const b of frame) await peer.writeRaw(Uint8Array.of(b));
    expect(await peer.nextFrame()).toEqual(apdu('00B0000000 9000'));
    await peer.writeRaw(frame.subarray(0, 2));
    await peer.writeRaw(frame.subarray(2));
    expect(await peer.nextFrame()).toEqual(apdu('00B0000000 9000'));
  });

  it('carries the largest frames (65535-byte APDU in, 65535-byte response out)', async () => {
    const card = new EchoCard();
    const { peer } = await serverAndCard({ card });
    const big = new Uint8Array(0xffff - 2).fill(0x5a);
    const reply = await peer.request(big);
    expect(reply.length).toBe(0xffff);
  });

  it('answers 6F00 when the card throws', async () => {
    const { peer, transport, log } = await serverAndCard({ card: new ThrowingCard() });
    expect(await peer.request(apdu('00B0000000'))).toEqual(apdu('6F00'));
    expect(transport.status().connected).toBe(true);
    expect(log.lines.some((l) => l.startsWith('warn') && /threw/.test(l))).toBe(true);
  });

  for (const [name, bytes] of [
    ['a zero-length frame', Uint8Array.of(0, 0)],
    ['an unknown 1-byte control code', encodeFrame(Uint8Array.of(0x03))],
  ] as const) {
    it(`rejects ${name} by closing the connection, logs it, and reconnects`, async () => {
      const { server, transport, log, card } = await serverAndCard();
      const peer = server.current!;
      await peer.getAtr();
      await peer.writeRaw(bytes);
      await peer.waitClosed();
      expect(transport.status().protocolErrors).toBe(1);
      expect(log.lines.some((l) => l.startsWith('warn') && /malformed/.test(l))).toBe(true);
      // The card comes back on a new connection, same card.
      const again = await server.peer(1);
      expect(await again.request(apdu('0001'))).toEqual(apdu('0001 9000'));
      expect(card.apdus).toBe(1);
    });
  }

  it('survives arbitrary garbage from vpcd without throwing', async () => {
    const { server, transport } = await serverAndCard();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (garbage) => {
        const peer = server.current!;
        if (peer.closed) await waitFor(() => server.current && !server.current.closed, { what: 'a reconnection' });
        await server.current!.writeRaw(garbage).catch(() => {});
      }),
      { numRuns: 30 },
    );
    // Whatever happened, the transport is still alive and reachable.
    await waitFor(() => transport.status().connected && !server.current!.closed, { what: 'a live connection' });
    const peer = server.current!;
    // Drain the partial frame the garbage may have left: close and let the card reconnect for a clean stream.
    const n = server.peers.length;
    await peer.close();
    const clean = await server.peer(n);
    expect(await clean.getAtr()).toEqual(TEST_ATR);
  });

  it('reconnects with backoff when vpcd goes away and comes back, keeping the card', async () => {
    const { server, transport, card } = await serverAndCard();
    const retries: number[] = [];
    transport.on('retry', (r) => retries.push(r.delayMs));
    await server.current!.getAtr();
    await server.current!.request(apdu('0001'));
    await server.stop(); // pcscd stops: the connection closes and the port refuses
    await waitFor(() => retries.length >= 3, { what: 'three reconnection attempts' });
    expect(retries.slice(0, 3)).toEqual([10, 20, 40]); // exponential
    expect(transport.status().connected).toBe(false);
    await server.listen(); // pcscd is back, same port
    const peer = await server.peer(1);
    expect(await peer.getAtr()).toEqual(TEST_ATR);
    await peer.request(apdu('0002'));
    expect(card.apdus).toBe(2);
    expect(transport.status()).toMatchObject({ visible: true, insertions: 2 });
  });

  it('after closing on a fault, waits faultReinsertDelayMs before reconnecting (so pcscd sees the removal)', async () => {
    const { server, transport } = await serverAndCard({ faultReinsertDelayMs: 300 });
    const retries: Array<{ delayMs: number }> = [];
    transport.on('retry', (r) => retries.push(r));
    await server.current!.getAtr();
    await server.current!.writeRaw(Uint8Array.of(0, 0));
    await server.peer(1);
    expect(retries[0].delayMs).toBe(300);
  });

  it('caps the backoff at maxMs', async () => {
    const server = new FakeVpcdServer();
    const port = await server.listen();
    await server.stop();
    const transport = new VpcdTransport({ card: new EchoCard(), port, backoff: { initialMs: 1, maxMs: 8 }, logger: collectingLogger().logger });
    cleanups.push(() => transport.stop());
    const delays: number[] = [];
    transport.on('retry', (r) => delays.push(r.delayMs));
    await transport.start();
    await waitFor(() => delays.length >= 6, { what: 'six retries' });
    expect(delays.slice(0, 6)).toEqual([1, 2, 4, 8, 8, 8]);
  });

  it('removal closes the socket and powers the card down; insertion reconnects with the state kept', async () => {
    const card = new FixedSelectCard();
    const { server, transport } = await serverAndCard({ card });
    const p0 = server.current!;
    await p0.getAtr();
    await p0.control(VpcdControl.POWER_ON);
    expect(await p0.request(apdu('00A4000C023F00'))).toEqual(apdu('9000'));
    expect(card.selected).toBe(true);
    await transport.remove();
    await p0.waitClosed();
    expect(transport.status()).toMatchObject({ inserted: false, connected: false, visible: false, powered: false });
    expect(card.powerDowns).toBe(1);
    expect(card.selected).toBe(false); // volatile state gone with the power
    expect(server.peers.length).toBe(1); // no reconnection while removed
    await transport.insert();
    const p1 = await server.peer(1);
    expect(await p1.getAtr()).toEqual(TEST_ATR);
    await p1.request(apdu('00B0000000'));
    expect(card.apdus).toBe(2); // the same card: its counter went on
    expect(transport.status().insertions).toBe(2);
  });

  it('reset() clears the card volatile state in place', async () => {
    const card = new FixedSelectCard();
    const { peer, transport } = await serverAndCard({ card });
    await peer.request(apdu('00A4000C023F00'));
    expect(card.selected).toBe(true);
    expect(transport.reset()).toBeUndefined();
    expect(card.selected).toBe(false);
    expect(transport.status().connected).toBe(true);
  });

  it('a card that loses power mid-command closes the connection and comes back', async () => {
    const card = new EchoCard();
    const { server, transport } = await serverAndCard({ card });
    const peer = server.current!;
    const real = card.transmit.bind(card);
    card.transmit = () => {
      card.transmit = real;
      const e = new Error('power lost');
      e.name = 'PowerLoss';
      throw e;
    };
    await peer.send(apdu('802A0080'));
    await peer.waitClosed();
    expect(peer.received).toBe(0); // no reply at all, not even 6F00
    expect(transport.status().protocolErrors).toBe(0);
    const again = await server.peer(1);
    expect(await again.request(apdu('0001'))).toEqual(apdu('0001 9000'));
  });

  it('serves several cards on several slots in one process', async () => {
    const a = await serverAndCard({ slot: 0 });
    const b = await serverAndCard({ slot: 1, card: new FixedSelectCard() });
    expect(a.transport.slot).toBe(0);
    expect(b.transport.slot).toBe(1);
    const [ra, rb] = await Promise.all([a.peer.request(apdu('00A4000C023F00')), b.peer.request(apdu('00A4000C023F00'))]);
    expect(ra).toEqual(apdu('00A4000C023F00 9000'));
    expect(rb).toEqual(apdu('9000'));
  });

  it('computes the port from slot and base port (35963 + slot by default)', () => {
    expect(new VpcdTransport({ card: new EchoCard() }).port).toBe(35963);
    expect(new VpcdTransport({ card: new EchoCard(), slot: 1 }).port).toBe(35964);
    expect(new VpcdTransport({ card: new EchoCard(), slot: 1, basePort: 40000 }).port).toBe(40001);
    expect(() => new VpcdTransport({ card: new EchoCard(), slot: -1 })).toThrow(RangeError);
  });

  it('arms TCP_QUICKACK by default when koffi is present, and not when switched off', async () => {
    const on = await serverAndCard();
    expect(on.transport.status().quickAck.wanted).toBe(true);
    if (on.transport.status().quickAck.available) expect(on.transport.status().quickAck.reason).toBeUndefined();
    else expect(on.transport.status().quickAck.reason).toMatch(/koffi|Linux/);
    const off = await serverAndCard({ quickAck: false });
    expect(off.transport.status().quickAck).toMatchObject({ wanted: false, available: false });
    expect(await off.peer.getAtr()).toEqual(TEST_ATR);
  });
});

describe('vpcd transport, reversed mode (the card listens, vpcd connects)', () => {
  async function listeningCard(opts: Partial<VpcdTransportOptions> = {}) {
    const card = (opts.card as EchoCard | undefined) ?? new EchoCard();
    const log = collectingLogger();
    const transport = new VpcdTransport({ mode: 'listen', port: 0, logger: log.logger, ...opts, card });
    const peers: VpcdPeer[] = [];
    cleanups.push(async () => {
      await transport.stop();
      for (const p of peers) await p.close();
    });
    await transport.start();
    const connect = async () => {
      const p = await connectToCard(transport.port);
      peers.push(p);
      return p;
    };
    return { card, transport, connect, log };
  }

  it('listens on loopback by default and answers the vpcd that connects', async () => {
    const { transport, connect, card } = await listeningCard();
    expect(transport.host).toBe('127.0.0.1');
    expect(transport.port).toBeGreaterThan(0);
    const peer = await connect();
    expect(await peer.getAtr()).toEqual(TEST_ATR);
    await peer.control(VpcdControl.POWER_ON);
    expect(await peer.request(apdu('0084000008'))).toEqual(apdu('0084000008 9000'));
    expect(card.powerUps).toBe(1);
    expect(transport.status()).toMatchObject({ mode: 'listen', visible: true, connections: 1 });
  });

  it('refuses a second simultaneous connection and keeps serving the first', async () => {
    const { connect, log } = await listeningCard();
    const first = await connect();
    await first.getAtr();
    const second = await connect();
    await second.waitClosed();
    expect(log.lines.some((l) => /second connection/.test(l))).toBe(true);
    expect(await first.request(apdu('0001'))).toEqual(apdu('0001 9000'));
  });

  it('removal closes the connection and the listener; insertion listens again with the state kept', async () => {
    const { transport, connect, card } = await listeningCard();
    const port = transport.port;
    const p0 = await connect();
    await p0.request(apdu('0001'));
    await transport.remove();
    await p0.waitClosed();
    await expect(connectToCard(port)).rejects.toThrow(/ECONNREFUSED/);
    await transport.insert();
    expect(transport.port).toBe(port);
    const p1 = await connect();
    await p1.request(apdu('0002'));
    expect(card.apdus).toBe(2);
  });

  it('rejects malformed input by closing, then accepts vpcd again', async () => {
    const { transport, connect } = await listeningCard();
    const p0 = await connect();
    await p0.writeRaw(Uint8Array.of(0, 0));
    await p0.waitClosed();
    expect(transport.status().protocolErrors).toBe(1);
    const p1 = await connect();
    expect(await p1.getAtr()).toEqual(TEST_ATR);
  });

  it('fails to start with a clear error when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => blocker.close(() => r())));
    const port = (blocker.address() as net.AddressInfo).port;
    const t = new VpcdTransport({ mode: 'listen', port, card: new EchoCard(), logger: collectingLogger().logger });
    await expect(t.start()).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    await t.stop();
  });
});
