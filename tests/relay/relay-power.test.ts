/**
 * The relay's virtual side driven frame by frame: a fake vpcd (tests/support/fake-vpcd.ts) in front,
 * the stand-in card (the simulator served by this test into the real vpcd slot 1, 'Virtual PCD 00 01')
 * behind, through the real PC/SC stack. A POWER OFF that pcscd sends while the harness is talking to
 * the card (its idle power-off, or a client leaving with SCARD_UNPOWER_CARD) is taken in turn, like
 * everything else that reaches the relay: the recorded session never has it between a command and
 * its response (replay would power the simulator down there and diverge), and the guard's selection
 * is never forgotten in the middle of the harness's counter reading.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { toHex } from '../../simulator/apdu/codec.ts';
import { VpcdControl } from '../../simulator/transport/vpcd/messages.ts';
import { openPcsc, type PcscContext, vpcdReaderName } from '../../harness/pcsc/index.ts';
import { type Relay, startRelay } from '../../harness/relay/relay.ts';
import { MemorySink } from '../../harness/session/recorder.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { authCertHash, testCard, testProfile } from '../support/card.ts';
import { FakeVpcdServer, type VpcdPeer } from '../support/fake-vpcd.ts';
import { acquirePcscLock, describePcsc } from '../support/pcsc-env.ts';
import { serveRealCard, type ServedCard } from '../support/real-card.ts';
import { waitFor } from '../support/wait.ts';

const R0 = vpcdReaderName(0);
const R1 = vpcdReaderName(1);

describePcsc('the relay takes power controls in turn (a fake vpcd in front, the stand-in card in slot 1)', () => {
  let release: () => void = () => {};
  let ctx: PcscContext;
  let standIn: ServedCard;
  let server: FakeVpcdServer;
  let relay: Relay | undefined;
  let peer: VpcdPeer;
  let profile: Profile;
  const sink = new MemorySink();

  beforeAll(async () => {
    release = await acquirePcscLock();
    profile = await testProfile('adult');
    const hash = authCertHash(profile);
    ctx = await openPcsc();
    await ctx.waitForCard(R0, 'absent', { timeoutMs: 10_000 });
    await ctx.waitForCard(R1, 'absent', { timeoutMs: 10_000 });
    standIn = await serveRealCard(profile, { slot: 1 });
    await ctx.waitForCard(R1, 'present');
    server = new FakeVpcdServer();
    await server.listen();
    relay = await startRelay({ reader: '^Virtual PCD 00 01$', slot: 0, allowCards: [hash], record: sink, vpcd: { basePort: server.port } });
    peer = await server.peer(0);
    expect(toHex(await peer.getAtr())).toBe(toHex(standIn.card.atr()));
  }, 120_000);

  afterAll(async () => {
    await relay?.stop();
    await server?.stop();
    await standIn?.stop();
    await ctx?.waitForCard(R1, 'absent').catch(() => {});
    await ctx?.close();
    release();
  });

  it("a POWER OFF during the harness's counter reading is recorded after it, never between a command and its response", async () => {
    const counting = relay!.counters();
    peer.push(Uint8Array.of(VpcdControl.POWER_OFF)); // reaches the relay while the counters are read
    const counters = await counting;
    expect(counters.auth?.triesLeft).toBe(3);
    await waitFor(() => sink.lines.some((l) => l.type === 'power-off'), { what: 'the power-off recorded' });
    const lines = sink.lines.filter((l) => l.type !== 'header');
    const at = lines.findIndex((l) => l.type === 'power-off');
    // every command is followed at once by its response
    lines.forEach((l, i) => {
      if (l.type === 'command') expect(lines[i + 1], `line after command ${l.seq} ${l.apdu}`).toMatchObject({ type: 'response', seq: l.seq });
    });
    // and the counter reading (SELECT AP … VERIFY queries) is one block before the power-off
    const lastQuery = lines.findLastIndex((l) => l.type === 'command' && l.apdu.startsWith('002000'));
    expect(at).toBeGreaterThan(lastQuery);
  });

  it('POWER OFF is a cold reset of the card at once; a POWER ON right after it resets nothing more, one after the card was used does', async () => {
    const cycles: string[] = [];
    const onExchange = (e: { kind: string }) => {
      if (e.kind === 'power-on' || e.kind === 'power-off') cycles.push(e.kind);
    };
    standIn.transport.on('exchange', onExchange);
    try {
      const tx = async (hex: string) => toHex(await relay!.channel.transmit(Uint8Array.from(Buffer.from(hex, 'hex'))));
      expect(await tx('00A4040C0AD392F000260100000001')).toBe('9000');
      expect(await tx('00A4020C020018')).toBe('9000');
      expect(await tx('00200080')).toBe('63C3');
      const offs = () => sink.lines.filter((l) => l.type === 'power-off').length;
      const before = offs();
      peer.push(Uint8Array.of(VpcdControl.POWER_OFF));
      await waitFor(() => offs() > before && cycles.includes('power-on'), { what: "the stand-in card powered up again after the relay's POWER OFF" });
      // a fresh card: the EF selection is gone, as on a replay's simulator after `power-off`
      const fresh = toHex(testCard(profile).transmit(Uint8Array.of(0x00, 0x20, 0x00, 0x80)));
      expect(fresh).not.toBe('63C3');
      expect(await tx('00200080')).toBe(fresh);
      // the card was used since: POWER ON resets it again
      cycles.length = 0;
      peer.push(Uint8Array.of(VpcdControl.POWER_ON));
      await waitFor(() => cycles.includes('power-on'), { what: 'the POWER ON after use mirrored as a cold reset' });
      // nothing between POWER OFF and POWER ON: one cold reset only
      cycles.length = 0;
      const ons = () => sink.lines.filter((l) => l.type === 'power-on').length;
      const onsBefore = ons();
      peer.push(Uint8Array.of(VpcdControl.POWER_OFF));
      peer.push(Uint8Array.of(VpcdControl.POWER_ON));
      await waitFor(() => ons() > onsBefore, { what: 'the second POWER ON recorded' });
      expect(await tx('00200080')).toBe(fresh); // a query through the queue: every power control before it is done
      expect(cycles.filter((c) => c === 'power-on')).toHaveLength(1);
    } finally {
      standIn.transport.off('exchange', onExchange);
    }
  });
});
