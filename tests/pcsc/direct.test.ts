/**
 * harness/pcsc/direct.ts: libpcsclite called synchronously through koffi (the relay's fast path), against
 * the simulator served by `myna-hil serve` in another process into vpcd slot 1 (a synchronous call
 * would wait forever for a card served by this process).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { toHex } from '../../simulator/apdu/codec.ts';
import { saveProfile } from '../../simulator/profile/io.ts';
import { connectDirect } from '../../harness/pcsc/direct.ts';
import { openPcsc, PcscError, type PcscContext, vpcdReaderName } from '../../harness/pcsc/index.ts';
import { testProfile } from '../support/card.ts';
import { BIN } from '../support/cli.ts';
import { acquirePcscLock, describePcsc } from '../support/pcsc-env.ts';

const R1 = vpcdReaderName(1);
const SELECT_JPKI = Uint8Array.from(Buffer.from('00A4040C0AD392F000260100000001', 'hex'));
const SELECT_AUTH_PIN = Uint8Array.from(Buffer.from('00A4020C020018', 'hex'));
const VERIFY_QUERY = Uint8Array.of(0x00, 0x20, 0x00, 0x80);

describePcsc('DirectCard: synchronous PC/SC through koffi', () => {
  let release: () => void = () => {};
  let ctx: PcscContext;
  let serve: ChildProcess | undefined;
  let dir: string;

  beforeAll(async () => {
    release = await acquirePcscLock();
    dir = mkdtempSync(join(tmpdir(), 'myna-direct-'));
    saveProfile(join(dir, 'card.json'), await testProfile('adult'));
    ctx = await openPcsc();
    await ctx.waitForCard(R1, 'absent', { timeoutMs: 10_000 });
    serve = spawn(process.execPath, [BIN, 'serve', '--card', join(dir, 'card.json'), '--slot', '1', '--control', join(dir, 'ctl.sock')], {
      stdio: 'ignore',
    });
    await ctx.waitForCard(R1, 'present', { timeoutMs: 20_000 });
  }, 120_000);

  afterAll(async () => {
    serve?.kill('SIGTERM');
    await ctx?.waitForCard(R1, 'absent', { timeoutMs: 10_000 }).catch(() => {});
    await ctx?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    release();
  });

  it('transmits byte-exact, holds the card exclusively, keeps the hold over a warm reset, and releases it', async () => {
    const card = await connectDirect(R1, 'exclusive');
    try {
      expect(toHex(card.transmitSync(SELECT_JPKI))).toBe('9000');
      expect(toHex(await card.transmit(SELECT_AUTH_PIN))).toBe('9000');
      expect(toHex(card.transmitSync(VERIFY_QUERY))).toBe('63C3');
      // exclusive: the binding's client is refused while the direct handle holds the card
      await expect(ctx.connect(R1)).rejects.toThrow(/0x8010000b|sharing/i);
      // SCardReconnect with a warm reset: the selection is gone, the hold is kept
      await card.reconnect('reset');
      expect(toHex(card.transmitSync(VERIFY_QUERY))).not.toBe('63C3');
      await expect(ctx.connect(R1)).rejects.toThrow(/0x8010000b|sharing/i);
    } finally {
      await card.disconnect('leave');
    }
    const again = await ctx.connect(R1);
    expect(toHex(await again.transmit(SELECT_JPKI))).toBe('9000');
    await again.disconnect('leave');
    expect(() => card.transmitSync(SELECT_JPKI)).toThrow(PcscError);
  });

  it('names PC/SC failures with their code', async () => {
    const err = await connectDirect('No Such Reader 99').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PcscError);
    expect((err as PcscError).codeName).toBe('SCARD_E_UNKNOWN_READER');
    expect((err as Error).message).toContain('No Such Reader 99');
  });
});
