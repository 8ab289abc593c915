/**
 * The relay (harness/relay) through the real PC/SC stack: the stand-in card (the simulator served by
 * this test into vpcd slot 1, 'Virtual PCD 00 01') plays the physical card; the relay serves slot 0,
 * 'Virtual PCD 00 00', to the clients. OpenSC signs through the relay, openssl verifies; the session
 * the relay recorded is the stand-in's own trace; removal is mirrored; the guard stops a client that
 * spends PIN tries; a card not in the allow-list gets nothing relayed.
 *
 * PIN values appear only on tool command lines and in test APDUs (test cards); messages redact them.
 */
import { randomBytes, verify, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { toHex } from '../../simulator/apdu/codec.ts';
import { resetCounter } from '../../simulator/issuer/issuer.ts';
import { cardFromProfile } from '../../simulator/card/build.ts';
import type { SmartCard } from '../../simulator/card/types.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { VpcdTransport } from '../../simulator/transport/vpcd/transport.ts';
import type { VpcdExchange } from '../../simulator/transport/vpcd/messages.ts';
import { openPcsc, type PcscContext, vpcdReaderName } from '../../harness/pcsc/index.ts';
import { type Relay, type RelayEvent, startRelay } from '../../harness/relay/relay.ts';
import { MemorySink } from '../../harness/session/recorder.ts';
import { CardNotAllowed } from '../../harness/targets/lab.ts';
import { authCertHash, testProfile } from '../support/card.ts';
import { describeOpensc, OPENSC_MODULE, openscMissing, parseSlots, runTool, signArgs } from '../support/opensc.ts';
import { acquirePcscLock } from '../support/pcsc-env.ts';
import { AID, type ServedCard, txHex, verifyApdu, wrongPin } from '../support/real-card.ts';
import { waitFor } from '../support/wait.ts';
import { recordedTrace, standInTrace } from './traces.ts';

const R0 = vpcdReaderName(0);
const R1 = vpcdReaderName(1);
const PHYSICAL = '^Virtual PCD 00 01$';
const TOOLS = ['/usr/bin/pkcs11-tool', '/usr/bin/openssl'];

/** Set to make the stand-in card lose power on its next APDU (a physical card pulled mid-command). */
let dieNext = false;

/** The stand-in card in slot 1: the simulator, behind a switch that makes it die mid-APDU once. */
async function serveStandIn(profile: Profile): Promise<ServedCard> {
  const card = cardFromProfile(profile);
  const port: SmartCard = {
    atr: () => card.atr(),
    powerUp: () => card.powerUp(),
    powerDown: () => card.powerDown(),
    reset: () => card.reset(),
    transmit: (command) => {
      if (!dieNext) return card.transmit(command);
      dieNext = false;
      throw Object.assign(new Error('the stand-in card was pulled mid-APDU'), { name: 'PowerLoss' });
    },
  };
  const warnings: string[] = [];
  const transport = new VpcdTransport({ card: port, slot: 1, logger: { info: () => {}, warn: (m) => warnings.push(m) } });
  await transport.start();
  return { card, transport, warnings, stop: () => transport.stop() };
}

describeOpensc(TOOLS, 'the relay: a vpcd reader in front of a "physical" reader (the stand-in card in slot 1)', () => {
  let release: () => void = () => {};
  let ctx: PcscContext;
  let profile: Profile;
  let standIn: ServedCard;
  let relay: Relay | undefined;
  let authHash: string;
  let dir: string;
  const seen: VpcdExchange[] = [];
  const sink = new MemorySink();
  const events: RelayEvent[] = [];

  beforeAll(async () => {
    const why = openscMissing(TOOLS);
    if (why) throw new Error(`OpenSC is needed: ${why}`);
    release = await acquirePcscLock();
    profile = await testProfile('adult');
    authHash = authCertHash(profile);
    dir = mkdtempSync(join(tmpdir(), 'myna-relay-'));
    ctx = await openPcsc();
    await ctx.waitForCard(R0, 'absent', { timeoutMs: 10_000 });
    await ctx.waitForCard(R1, 'absent', { timeoutMs: 10_000 });
    standIn = await serveStandIn(profile);
    standIn.transport.on('exchange', (e) => seen.push(e));
    await ctx.waitForCard(R1, 'present');
    relay = await startRelay({
      reader: PHYSICAL,
      slot: 0,
      allowCards: [authHash],
      labPins: { auth: profile.pins.auth.value },
      record: sink,
      onEvent: (e) => events.push(e),
    });
    await relay.waitVisible();
  }, 300_000);

  afterAll(async () => {
    await relay?.stop();
    await standIn?.stop();
    await ctx?.waitForCard(R0, 'absent').catch(() => {});
    await ctx?.waitForCard(R1, 'absent').catch(() => {});
    await ctx?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    release();
  });

  it('checks the card against the allow-list before the virtual card is inserted, and records the header', async () => {
    const header = sink.lines[0];
    expect(header).toMatchObject({ type: 'header', target: 'relay', reader: R1, card: { authCertSha256: authHash } });
    expect(header.type === 'header' && header.atr).toBe(toHex(standIn.card.atr()));
    expect(header.type === 'header' && header.harness.name).toBe('myna-hil');
    // The first commands are the harness's: SELECT JPKI AP, SELECT EF 000A, READ BINARY …
    const first = sink.lines.find((l) => l.type === 'command');
    expect(first).toMatchObject({ apdu: `00A4040C0A${AID.jpki}`, by: 'harness' });
    expect(events[0]).toEqual({ type: 'inserted', atr: toHex(standIn.card.atr()), authCertSha256: authHash });
    // the virtual reader shows the physical card's ATR
    expect(toHex((await ctx.waitForCard(R0, 'present')).atr)).toBe(toHex(standIn.card.atr()));
  });

  it("pkcs11-tool signs through the relay's reader; openssl verifies the signature with the card's certificate", async () => {
    const list = await runTool('pkcs11-tool', ['--module', OPENSC_MODULE, '--list-slots']);
    expect(list.code, list.what).toBe(0);
    const slot = parseSlots(list.stdout).find((s) => s.reader === R0 && s.token === 'JPKI (User Authentication PIN)');
    expect(slot, list.what).toBeDefined();
    const data = join(dir, 'data');
    writeFileSync(data, randomBytes(500));
    const signed = await runTool('pkcs11-tool', signArgs(slot!.id, profile.pins.auth.value, '01', data, join(dir, 'sig')));
    expect(signed.code, signed.what).toBe(0);
    writeFileSync(join(dir, 'cert.pem'), profile.certificates.auth);
    const pub = await runTool('openssl', ['x509', '-in', join(dir, 'cert.pem'), '-pubkey', '-noout', '-out', join(dir, 'pub.pem')]);
    expect(pub.code, pub.what).toBe(0);
    const v = await runTool('openssl', ['dgst', '-sha256', '-verify', join(dir, 'pub.pem'), '-signature', join(dir, 'sig'), data]);
    expect(v.stdout.trim(), v.what).toBe('Verified OK');
    expect(verify('sha256', readFileSync(data), new X509Certificate(profile.certificates.auth).publicKey, readFileSync(join(dir, 'sig')))).toBe(true);
    expect(standIn.card.pin('auth').remaining).toBe(3);
    // OpenSC's login went through the guard: its query first (by the guard), then the VERIFY (masked)
    const guardQuery = sink.lines.findIndex((l) => l.type === 'command' && l.by === 'guard' && l.apdu === '00200080');
    expect(guardQuery).toBeGreaterThan(0);
    expect(sink.lines.slice(guardQuery).find((l) => l.type === 'command' && l.by === 'client' && l.masked)).toMatchObject({ apdu: '00200080' });
    expect(relay!.refusals).toEqual([]);
  });

  it("the session the relay recorded equals the stand-in card's own trace, byte for byte, in order", () => {
    const recorded = recordedTrace(sink.lines);
    expect(recorded.length).toBeGreaterThan(20);
    expect(recorded).toEqual(standInTrace(seen));
    // and nothing in it is a PIN value
    const text = JSON.stringify(sink.lines);
    expect(text).not.toContain(toHex(Buffer.from(profile.pins.auth.value, 'latin1')));
  });

  it("the stand-in card removed: a PC/SC client sees the relay's reader empty; inserted again (and checked again): present", async () => {
    const before = events.filter((e) => e.type === 'inserted').length;
    await standIn.transport.remove();
    await ctx.waitForCard(R0, 'absent');
    expect(events.some((e) => e.type === 'removed')).toBe(true);
    await standIn.transport.insert();
    await ctx.waitForCard(R0, 'present');
    expect(events.filter((e) => e.type === 'inserted').length).toBe(before + 1);
    const kinds = sink.lines.filter((l) => l.type === 'remove' || l.type === 'insert').map((l) => l.type);
    expect(kinds).toEqual(['remove', 'insert']);
    // the card is usable through the relay again
    const h = await ctx.connect(R0);
    try {
      expect(await txHex(h, `00A4040C0A${AID.jpki}`)).toBe('9000');
    } finally {
      await h.disconnect('leave');
    }
  });

  it('the guard: a client trying a wrong auth PIN is stopped at 2 tries left (never 0) with 69 83; the lab value still passes', async () => {
    const h = await ctx.connect(R0);
    const wrong = verifyApdu(wrongPin(profile.pins.auth.value));
    const answers: string[] = [];
    try {
      expect(await txHex(h, `00A4040C0A${AID.jpki}`)).toBe('9000');
      expect(await txHex(h, '00A4020C020018')).toBe('9000');
      for (let i = 0; i < 4; i++) answers.push(await txHex(h, wrong));
      expect(answers).toEqual(['63C2', '6983', '6983', '6983']);
      expect(standIn.card.pin('auth').remaining).toBe(2);
      expect(relay!.refusals.length).toBe(3);
      expect(relay!.refusals[0].message).toMatch(/^guard refused: auth PIN has 2 tries left/);
      expect(relay!.refusals[0].message).not.toContain(profile.pins.auth.value);
      // the refusal is recorded as the client's command, the guard's event, the guard's answer
      const refusedAt = sink.lines.findIndex((l) => l.type === 'guard' && l.event.type === 'refused');
      expect(sink.lines[refusedAt - 1]).toMatchObject({ type: 'command', by: 'client', apdu: '00200080', masked: true });
      expect(sink.lines[refusedAt + 1]).toMatchObject({ type: 'response', apdu: '6983', from: 'guard' });
      // the lab's own value may still go with 2 tries left: the right entry restores the counter
      expect(await txHex(h, verifyApdu(profile.pins.auth.value))).toBe('9000');
      expect(standIn.card.pin('auth').remaining).toBe(3);
    } finally {
      await h.disconnect('leave');
      resetCounter(standIn.card, 'auth');
    }
  });

  it("a physical transmit that fails (the card dies mid-APDU) ends the client's card session, never freezes it; the card comes back checked again", async () => {
    const removedBefore = events.filter((e) => e.type === 'removed').length;
    const insertedBefore = events.filter((e) => e.type === 'inserted').length;
    const h = await ctx.connect(R0);
    dieNext = true;
    const outcome = await h.transmit(Uint8Array.from(Buffer.from(`00A4040C0A${AID.jpki}`, 'hex'))).then(
      (r) => `answered ${toHex(r) || 'nothing'}`,
      (err: Error) => `failed: ${err.message}`,
    );
    await h.disconnect('leave').catch(() => {});
    // vpcd gave the client an empty answer or an error, never a made-up status word, and did not hang
    expect(outcome).toMatch(/^answered nothing$|^failed: /);
    expect(sink.lines.some((l) => l.type === 'no-response')).toBe(true);
    await waitFor(() => events.filter((e) => e.type === 'removed').length > removedBefore, { timeoutMs: 10_000, what: 'the virtual card removed' });
    await waitFor(() => events.filter((e) => e.type === 'inserted').length > insertedBefore, {
      timeoutMs: 15_000,
      what: 'the card checked and inserted again',
    });
    await ctx.waitForCard(R0, 'present');
    const again = await ctx.connect(R0);
    try {
      expect(await txHex(again, `00A4040C0A${AID.jpki}`)).toBe('9000');
    } finally {
      await again.disconnect('leave');
    }
  });

  it('stop() removes the virtual card; a card not in the allow-list: nothing relayed, no virtual card, CardNotAllowed (exit 4)', async () => {
    await relay!.stop();
    relay = undefined;
    await ctx.waitForCard(R0, 'absent');
    seen.length = 0;
    const err = await startRelay({ reader: PHYSICAL, slot: 0, allowCards: ['00'.repeat(32)] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CardNotAllowed);
    expect((err as CardNotAllowed).exitCode).toBe(4);
    expect((err as Error).message).toContain(`has SHA-256 ${authHash}, which is not in the allow-list`);
    // only the allow-list check reached the card: SELECTs and READ BINARYs, no client command
    expect(seen.length).toBeGreaterThan(0);
    expect(standInTrace(seen).every(([c]) => /^00A4|^00B0/.test(c))).toBe(true);
    expect(ctx.readerState(R0)?.present).toBe(false);
  });
});
