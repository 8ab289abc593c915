/**
 * Back-pressure in the vpcd transport: a peer that sends APDUs and never reads the replies must not
 * make the card's process grow. Every check is on state (the transport's flow status, the card's
 * counters, the socket), never on time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { VpcdTransport, type VpcdTransportOptions } from '../../simulator/transport/vpcd/transport.ts';
import { FakeVpcdServer } from '../support/fake-vpcd.ts';
import { EchoCard } from '../support/test-cards.ts';
import { waitFor } from '../support/wait.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(opts: Partial<VpcdTransportOptions> = {}) {
  const server = new FakeVpcdServer();
  await server.listen();
  const card = new EchoCard();
  const warnings: string[] = [];
  const transport = new VpcdTransport({
    port: server.port,
    card,
    quickAck: false,
    faultReinsertDelayMs: 60_000, // no reconnection while a test looks at a closed connection
    logger: { info: () => {}, warn: (m) => warnings.push(m) },
    ...opts,
  });
  cleanups.push(async () => {
    await transport.stop();
    await server.stop();
  });
  await transport.start();
  const peer = await server.peer(0);
  await peer.getAtr();
  return { server, card, transport, peer, warnings };
}

/** An APDU the echo card answers with itself + 90 00. */
const apduOf = (size: number) => Uint8Array.from({ length: size }, (_, i) => (i === 1 ? 0xb0 : i & 0xff));

/** Far more reply bytes than the loopback socket buffers hold (a few MB): the card must block first. */
const MAX_FRAMES = 2000;

/**
 * The peer sends `apdu` one at a time, never reading, until `stop()` holds; after each frame it
 * waits until the card either answered it or `stop()` holds. Returns how many frames it sent.
 */
async function floodUntil(setupResult: Awaited<ReturnType<typeof setup>>, apdu: Uint8Array, stop: () => boolean, what: string): Promise<number> {
  const { peer, card } = setupResult;
  peer.stopReading();
  let sent = 0;
  while (!stop()) {
    expect(sent, `${what} after ${sent} APDUs (${sent * apdu.length} bytes) that vpcd never read`).toBeLessThan(MAX_FRAMES);
    peer.push(apdu);
    sent++;
    await waitFor(() => stop() || card.apdus === sent, { intervalMs: 1, what: `the card to answer APDU ${sent} or ${what}` });
  }
  return sent;
}

describe('vpcd transport back-pressure', () => {
  it('stops reading while vpcd does not read its replies, holds a bounded amount, and carries on when vpcd reads', async () => {
    const s = await setup();
    const { transport, peer, card } = s;
    const apdu = apduOf(32_000);
    // (`flow?.`: without back-pressure there is no flow status, and the card answers all it gets.)
    const sent = await floodUntil(s, apdu, () => !!transport.status().flow?.paused, 'the card to stop reading');

    const flow = transport.status().flow;
    expect(flow.output).toBeGreaterThan(0); // the reply the kernel could not take
    expect(flow.input + flow.output).toBeLessThanOrEqual(flow.limit);
    expect(card.apdus).toBeLessThanOrEqual(sent);
    expect(transport.status()).toMatchObject({ connected: true, protocolErrors: 0 });

    // More frames while paused, then vpcd reads: every APDU is answered, in order, and reading resumes.
    for (let i = 0; i < 5; i++) peer.push(apdu);
    peer.startReading();
    await waitFor(() => peer.received === sent + 5, { timeoutMs: 20_000, what: `all ${sent + 5} replies` });
    const expected = Buffer.concat([apdu, Uint8Array.of(0x90, 0x00)]);
    for (let i = 0; i < sent + 5; i++) expect(Buffer.from(await peer.nextFrame()).equals(expected)).toBe(true);
    expect(card.apdus).toBe(sent + 5);
    await waitFor(() => !transport.status().flow.paused, { what: 'the card to read again' });
    expect(await peer.request(Uint8Array.of(0x00, 0xa4))).toEqual(Uint8Array.of(0x00, 0xa4, 0x90, 0x00));
    expect(transport.status()).toMatchObject({ connected: true, protocolErrors: 0, flow: { paused: false, input: 0, output: 0 } });
  });

  it('closes the connection with a warning when what vpcd leaves unread goes over the limit', async () => {
    const s = await setup({ maxQueuedBytes: 16_000 });
    const { transport, warnings, card } = s;
    // Frames of 8000 bytes: a partial one alone never reaches the limit; replies vpcd does not read do.
    // (A peer that does not read does not see the close either: watch the card's side.)
    const sent = await floodUntil(s, apduOf(8_000), () => !transport.status().connected, 'the card to close the connection');
    expect(card.apdus).toBeLessThanOrEqual(sent);
    expect(transport.status()).toMatchObject({ connected: false, protocolErrors: 1 });
    const why = /^protocol error: (\d+) bytes queued \((\d+) received and not yet answered, (\d+) of replies vpcd has not read\), over the limit of 16000/.exec(
      transport.status().lastError ?? '',
    );
    expect(why, transport.status().lastError).not.toBeNull();
    const [held, input, output] = why!.slice(1).map(Number);
    expect(held).toBe(input + output);
    expect(held).toBeGreaterThan(16_000);
    expect(warnings.filter((w) => /closing the connection: \d+ bytes queued .* over the limit of 16000/.test(w))).toHaveLength(1);
  });

  it('closes the connection when input not yet answered goes over the limit (a frame longer than it)', async () => {
    const { transport, peer, warnings } = await setup({ maxQueuedBytes: 1_000 });
    await peer.writeRaw(Uint8Array.from([0x05, 0xdc, ...new Uint8Array(1_200)])); // 1200 of a 1500-byte frame
    await peer.waitClosed();
    expect(transport.status()).toMatchObject({
      protocolErrors: 1,
      lastError: expect.stringMatching(/^protocol error: 1202 bytes queued \(1202 received and not yet answered, 0 of replies/),
    });
    expect(warnings.some((w) => /over the limit of 1000/.test(w))).toBe(true);
  });

  it('refuses a limit that is not a positive integer', () => {
    for (const maxQueuedBytes of [0, -1, 1.5, Number.NaN]) {
      expect(() => new VpcdTransport({ card: new EchoCard(), maxQueuedBytes })).toThrow(/maxQueuedBytes .* must be a positive integer/);
    }
  });
});
