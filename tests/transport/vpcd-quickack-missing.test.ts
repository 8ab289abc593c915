/**
 * Without the optional FFI package koffi the TCP_QUICKACK fix is unavailable: the transport says so
 * once, with the reason, and works anyway.
 */
import { describe, expect, it, vi } from 'vitest';

vi.mock('koffi', () => {
  throw new Error("Cannot find package 'koffi'");
});

const { loadQuickAck } = await import('../../simulator/transport/vpcd/quickack.ts');
const { VpcdTransport } = await import('../../simulator/transport/vpcd/transport.ts');
const { FakeVpcdServer } = await import('../support/fake-vpcd.ts');
const { EchoCard, TEST_ATR } = await import('../support/test-cards.ts');

describe('TCP_QUICKACK without koffi', () => {
  it('logs once that the fix is unavailable and why, and the transport still serves', async () => {
    const warnings: string[] = [];
    const logger = { info: () => {}, warn: (m: string) => warnings.push(m) };
    const qa = await loadQuickAck(true, logger);
    expect(qa.available).toBe(false);
    expect(qa.reason).toMatch(/koffi/);
    await loadQuickAck(true, logger);

    const server = new FakeVpcdServer();
    await server.listen();
    const t = new VpcdTransport({ card: new EchoCard(), port: server.port, logger });
    await t.start();
    try {
      const peer = await server.peer(0);
      expect(await peer.getAtr()).toEqual(TEST_ATR);
      expect(t.status().quickAck).toMatchObject({ wanted: true, available: false });
    } finally {
      await t.stop();
      await server.stop();
    }
    expect(warnings.filter((w) => /TCP_QUICKACK fix .* is unavailable/.test(w))).toHaveLength(1);
    expect(warnings[0]).toMatch(/npm install koffi/);
  });

  it('does not even try to load koffi when switched off', async () => {
    const warnings: string[] = [];
    const qa = await loadQuickAck(false, { warn: (m) => warnings.push(m) });
    expect(qa).toMatchObject({ available: false, reason: 'disabled by option quickAck: false' });
    expect(warnings).toEqual([]);
  });
});
