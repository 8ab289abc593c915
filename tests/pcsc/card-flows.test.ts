/**
 * The REAL virtual card through pcscd (issue 3, "How we will know"): a generated card served into
 * vpcd slot 0, seen by the pcsclite client (harness/pcsc) as a card in `Virtual PCD 00 00`. The
 * spec's client flows run over PC/SC, the fixed golden bytes of the spec come back exactly, removal
 * and insertion are reader events that keep the card's counters, power-off clears verified state, and
 * `myna-hil serve --state` keeps the counters across a restart.
 *
 * Needs `bash scripts/pcsc-stack.sh start`.
 */
import { createHash, verify, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { authenticityFlow } from '../../harness/flows/authenticity.ts';
import { runFlows, SPEC_FLOWS } from '../../harness/flows/spec-flows.ts';
import { pcscChannel } from '../../harness/pcsc/channel.ts';
import { openPcsc, PcscError, vpcdReaderName, type PcscCard, type PcscContext } from '../../harness/pcsc/index.ts';
import { sendControl } from '../../harness/serve/control.ts';
import { encodeCommand } from '../../simulator/apdu/codec.ts';
import { SHA256_DIGESTINFO_PREFIX } from '../../simulator/card/crypto.ts';
import { DEFAULT_ATR } from '../../simulator/profile/generate.ts';
import { saveProfile } from '../../simulator/profile/io.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { testProfile } from '../support/card.ts';
import { acquirePcscLock, describePcsc } from '../support/pcsc-env.ts';
import {
  AID,
  describeFailures,
  hex,
  serveRealCard,
  spawnServe,
  txHex,
  verifyApdu,
  waitVisible,
  wrongPin,
  type ServedCard,
  type ServeProcess,
} from '../support/real-card.ts';
import { waitFor } from '../support/wait.ts';

const R0 = vpcdReaderName(0);
/** The spec's default contact ATR (mynumber-card.md section 2). */
const SPEC_ATR = '3BDA13FF8131FB468012392F31C173C601C03B';
/** OpenSC's JPKI ATR (docs/card.md §10.1), used as the `--atr` override. */
const OTHER_ATR = '3BE000FF8131FE4514';

const der = (pem: string) => new Uint8Array(new X509Certificate(pem).raw);
const signApdu = (message: string) =>
  encodeCommand({
    cla: 0x80,
    ins: 0x2a,
    p1: 0,
    p2: 0x80,
    data: Buffer.concat([SHA256_DIGESTINFO_PREFIX, createHash('sha256').update(message).digest()]),
    ne: 256,
  });

describePcsc('the real card through pcscd', () => {
  let release: () => void = () => {};
  let ctx: PcscContext | undefined;
  let profile: Profile;

  beforeAll(async () => {
    release = await acquirePcscLock();
    profile = await testProfile('adult');
    ctx = await openPcsc();
    await ctx.waitForCard(R0, 'absent', { timeoutMs: 10_000 });
  }, 300_000);

  afterAll(async () => {
    await ctx?.close();
    release();
  });

  describe('served in process on slot 0', () => {
    let served: ServedCard;

    beforeAll(async () => {
      served = await serveRealCard(profile, { slot: 0 });
      await ctx!.waitForCard(R0, 'present');
    });

    afterEach(async () => {
      await ctx!.disconnectAll();
      expect(served.warnings).toEqual([]);
    });

    afterAll(async () => {
      await served?.stop();
      await ctx?.waitForCard(R0, 'absent').catch(() => {});
    });

    it("the reader shows the card with the profile's ATR (the spec's default)", async () => {
      const readers = await ctx!.listReaders();
      expect(readers).toContain(R0);
      const st = await ctx!.waitForCard(R0, 'present');
      expect(profile.card.atr).toBe(SPEC_ATR);
      expect(DEFAULT_ATR).toBe(SPEC_ATR);
      expect(hex(st.atr)).toBe(SPEC_ATR);
      const h = await ctx!.connect(R0);
      expect(h.protocol).toBe('T1');
    });

    it('runs the spec flows 11.1, 11.2, 11.3, 11.5 and the authenticity check over PC/SC, all checks ok', async () => {
      const h = await ctx!.connect(R0);
      const flows = [...SPEC_FLOWS.filter((f) => ['11.1', '11.2', '11.3', '11.5'].includes(f.id)), authenticityFlow(profile.issuer.rootPublicKey)];
      expect(flows.map((f) => f.id)).toEqual(['11.1', '11.2', '11.3', '11.5', 'auth-check']);
      const results = await runFlows(pcscChannel(h), flows, {
        authPin: profile.pins.auth.value,
        signPin: profile.pins.sign.value,
        kenmenPin: profile.pins.kenmen.value,
      });
      expect(describeFailures(results)).toBe('');
      expect(results.map((r) => [r.id, r.ok])).toEqual(flows.map((f) => [f.id, true]));
      for (const r of results) expect(r.checks.length).toBeGreaterThan(0);
      // The signature checks ran (not just the reads).
      const all = results.flatMap((r) => r.checks.map((c) => c.what));
      expect(all).toContain('signature verifies with the auth certificate');
      expect(all).toContain('signature verifies with the sign certificate');
      expect(all).toContain('DF33 (issuer signature over DF31 ‖ DF32) verifies');
      // Every tries counter is back at its maximum (the flows verified the right PINs).
      expect([served.card.pin('auth').remaining, served.card.pin('sign').remaining, served.card.pin('kenmen').remaining]).toEqual([3, 5, 3]);
    });

    it("the spec's fixed golden bytes come back exactly through PC/SC", async () => {
      const h = await ctx!.connect(R0);
      // 11.1: JPKI AP, token label, auth PIN query, the auth certificate byte for byte.
      expect(await txHex(h, `00A4040C0A${AID.jpki}`)).toBe('9000');
      expect(await txHex(h, '00A4020C020006')).toBe('9000');
      expect(await txHex(h, '00B0000020')).toBe(`${hex(Buffer.from('JPKIAPICCTOKEN2'))}${'20'.repeat(17)}9000`);
      expect(await txHex(h, '00A4020C020018')).toBe('9000');
      expect(await txHex(h, '00200080')).toBe('63C3');
      expect(await txHex(h, '00A4020C02001B')).toBe('9000');
      expect(await txHex(h, '00200080')).toBe('63C5');
      expect(await txHex(h, '00A4020C02000A')).toBe('9000');
      const cert = der(profile.certificates.auth);
      expect(await txHex(h, '00B0000004')).toBe(`${hex(cert.subarray(0, 4))}9000`);
      expect(hex(cert.subarray(0, 2))).toBe('3082');
      const read = new Uint8Array(cert.length);
      for (let off = 0; off < cert.length; off += 256) {
        const n = Math.min(256, cert.length - off);
        const r = await h.transmit(encodeCommand({ cla: 0, ins: 0xb0, p1: off >> 8, p2: off & 0xff, ne: n }));
        expect(hex(r.subarray(r.length - 2))).toBe('9000');
        expect(r.length).toBe(n + 2);
        read.set(r.subarray(0, n), off);
      }
      expect(hex(read)).toBe(hex(cert));
      // 11.2 without VERIFY: the sign certificate is protected.
      expect(await txHex(h, '00A4020C020001')).toBe('9000');
      expect(await txHex(h, '00B0000004')).toBe('6982');
      // 11.6: signing without VERIFY, unknown EF, a foreign AID.
      expect(await txHex(h, '00A4020C020017')).toBe('9000');
      expect(await txHex(h, signApdu('x'))).toBe('6982');
      expect(await txHex(h, '00A4020C020099')).toBe('6A82');
      expect(await txHex(h, '00A4040007A0000000031010')).toBe('6A82');

      // 11.3: My Number EF and the basic 4 attributes, as the spec's synthetic example (the
      // profile's holder is the spec's default holder).
      expect(profile.holder.myNumber).toBe('123456789018');
      expect(await txHex(h, `00A4040C0A${AID.text}`)).toBe('9000');
      expect(await txHex(h, '00A4020C020011')).toBe('9000');
      expect(await txHex(h, verifyApdu(profile.pins.kenmen.value))).toBe('9000');
      expect(await txHex(h, '00A4020C020001')).toBe('9000');
      expect(await txHex(h, '00B0000011')).toBe('FF100C313233343536373839303138FFFF9000');
      expect(await txHex(h, '00A4020C020002')).toBe('9000');
      expect(await txHex(h, '00B0000007')).toBe('FF2056DF2108009000');
      expect(await txHex(h, '00B0000752')).toBe(
        [
          '0E0020004A0055',
          'DF220FE5B1B1E794B0E38080E5A4AAE9838E',
          'DF2327E69DB1E4BAACE983BDE58D83E4BBA3E794B0E58CBAE58D83E4BBA3E794B0EFBC91EFBC8DEFBC91',
          'DF2408' + '3139383030313031',
          'DF250131',
          '9000',
        ].join(''),
      );
    });

    it('removal and insertion are reader state changes; the card keeps its counters across them', async () => {
      const c = ctx!;
      const { card, transport } = served;
      const h = await c.connect(R0);
      expect(await txHex(h, `00A4040C0A${AID.jpki}`)).toBe('9000');
      expect(await txHex(h, '00A4020C020018')).toBe('9000');
      expect(await txHex(h, verifyApdu(wrongPin(profile.pins.auth.value)))).toBe('63C2');
      const before = c.readerState(R0)!.eventCount;

      await transport.remove();
      const gone = await c.waitForCard(R0, 'absent');
      expect(gone.eventCount).toBeGreaterThan(before);
      expect(card.isPowered).toBe(false);
      await expect(h.transmit(Uint8Array.from([0x00, 0x20, 0x00, 0x80]))).rejects.toBeInstanceOf(PcscError);
      await h.disconnect().catch(() => {});

      await transport.insert();
      const back = await c.waitForCard(R0, 'present');
      expect(hex(back.atr)).toBe(SPEC_ATR);
      expect(back.eventCount).toBeGreaterThan(gone.eventCount);
      const h2 = await c.connect(R0);
      expect(await txHex(h2, `00A4040C0A${AID.jpki}`)).toBe('9000');
      expect(await txHex(h2, '00A4020C020018')).toBe('9000');
      expect(await txHex(h2, '00200080')).toBe('63C2'); // the spent try survived the removal
      expect(card.pin('auth').remaining).toBe(2);
      // Back to a full counter for the next test.
      expect(await txHex(h2, verifyApdu(profile.pins.auth.value))).toBe('9000');
      expect(await txHex(h2, '00200080')).toBe('63C3');
    });

    it('power-off between connections clears the verified state (disconnect unpower, reconnect unpower)', async () => {
      const c = ctx!;
      const { card } = served;
      const cert = new X509Certificate(profile.certificates.auth);
      const login = async (h: PcscCard) => {
        expect(await txHex(h, `00A4040C0A${AID.jpki}`)).toBe('9000');
        expect(await txHex(h, '00A4020C020018')).toBe('9000');
        expect(await txHex(h, verifyApdu(profile.pins.auth.value))).toBe('9000');
        expect(await txHex(h, '00A4020C020017')).toBe('9000');
        // Verified: the auth key signs (twice: a signature does not end the verified state).
        for (const m of ['first', 'second']) {
          const r = await h.transmit(signApdu(m));
          expect(hex(r.subarray(256))).toBe('9000');
          expect(verify('sha256', Buffer.from(m), cert.publicKey, r.subarray(0, 256))).toBe(true);
        }
        expect(card.isVerified('auth')).toBe(true);
      };
      const refused = async (h: PcscCard) => {
        // After the power cycle the card is back at the MF: the key is not selectable without its AP...
        expect(await txHex(h, '00A4020C020017')).toBe('6A82');
        // ...and with it, signing needs the PIN again.
        expect(await txHex(h, `00A4040C0A${AID.jpki}`)).toBe('9000');
        expect(await txHex(h, '00A4020C020017')).toBe('9000');
        expect(await txHex(h, signApdu('third'))).toBe('6982');
      };

      const h = await c.connect(R0);
      await login(h);
      await h.disconnect('unpower');
      await waitFor(() => !card.isPowered && !card.isVerified('auth'), { what: 'POWER OFF to reach the card' });
      const h2 = await c.connect(R0);
      expect(card.selectedApplication).toBe('mf');
      await refused(h2);

      await login(h2);
      await h2.reconnect('unpower');
      expect(card.isVerified('auth')).toBe(false); // SCardReconnect(UNPOWER): POWER OFF, POWER ON, GET ATR
      expect(card.selectedApplication).toBe('mf');
      await refused(h2);
      expect(card.pin('auth').remaining).toBe(3);
    });
  });

  describe('myna-hil serve as a process', () => {
    let dir: string;
    let serve: ServeProcess | undefined;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'myna-card-flows-'));
      saveProfile(join(dir, 'card.json'), profile);
      await ctx!.waitForCard(R0, 'absent', { timeoutMs: 10_000 });
    });

    afterEach(async () => {
      await ctx!.disconnectAll();
      if (serve) expect(await serve.stop()).toBe(0);
      serve = undefined;
      await ctx!.waitForCard(R0, 'absent');
    });

    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('--atr overrides the ATR; the control socket removes and inserts; --state keeps the counters across a serve restart', async () => {
      const c = ctx!;
      const card = join(dir, 'card.json');
      const state = join(dir, 'state.json');
      const control = join(dir, 'ctl.sock');
      const remaining = () => (JSON.parse(readFileSync(state, 'utf8')) as { pins: { auth: { remaining: number } } }).pins.auth.remaining;

      serve = spawnServe(['--card', card, '--state', state, '--slot', '0', '--control', control, '--atr', OTHER_ATR]);
      await waitVisible(serve);
      expect(hex((await c.waitForCard(R0, 'present')).atr)).toBe(OTHER_ATR);
      let h = await c.connect(R0);
      expect(await txHex(h, `00A4040C0A${AID.jpki}`)).toBe('9000');
      expect(await txHex(h, '00A4020C020018')).toBe('9000');
      expect(await txHex(h, verifyApdu(wrongPin(profile.pins.auth.value)))).toBe('63C2');
      expect(remaining()).toBe(2);
      await h.disconnect();

      expect(await sendControl(control, 'remove')).toMatchObject({ ok: true });
      await c.waitForCard(R0, 'absent');
      expect(await sendControl(control, 'insert')).toMatchObject({ ok: true });
      expect(hex((await c.waitForCard(R0, 'present')).atr)).toBe(OTHER_ATR);
      expect((await sendControl(control, 'status')).status).toMatchObject({ inserted: true, insertions: 2 });

      expect(await serve.stop()).toBe(0);
      serve = undefined;
      await c.waitForCard(R0, 'absent');
      expect(remaining()).toBe(2);

      // Restarted without --atr: the profile's ATR, and the spent try still spent.
      serve = spawnServe(['--card', card, '--state', state, '--slot', '0', '--control', control]);
      await waitVisible(serve);
      expect(hex((await c.waitForCard(R0, 'present')).atr)).toBe(SPEC_ATR);
      h = await c.connect(R0);
      expect(await txHex(h, `00A4040C0A${AID.jpki}`)).toBe('9000');
      expect(await txHex(h, '00A4020C020018')).toBe('9000');
      expect(await txHex(h, '00200080')).toBe('63C2');
      expect(await txHex(h, verifyApdu(profile.pins.auth.value))).toBe('9000');
      expect(remaining()).toBe(3);
      // The log redacts the PIN data of every VERIFY it shows (its lines arrive through a pipe: wait).
      const s = serve;
      await waitFor(() => s.out.some((l) => /> 00 20 00 80 <redacted>/.test(l)), { what: 'the redacted VERIFY in the serve log' });
      const log = serve.out.join('\n');
      expect(log.includes(hex(Buffer.from(profile.pins.auth.value)).match(/../g)!.join(' ')), 'the PIN bytes appear in the serve log').toBe(false);
    }, 120_000);
  });
});
