/**
 * In-process card benchmarks (issue 2): APDUs per second for a VERIFY query, a SELECT EF and a
 * 256-byte READ BINARY; RSA-2048 signatures by the card against a bare node:crypto sign in the same
 * run; the PIN path (./pin-path.ts: VERIFY that spends a try, CHANGE, a whole auth flow); card
 * generation time; peak memory of a process holding one card.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex } from '../simulator/apdu/codec.ts';
import { cardFromProfile } from '../simulator/card/build.ts';
import { SHA256_DIGESTINFO_PREFIX } from '../simulator/card/crypto.ts';
import { deriveFiles } from '../simulator/profile/files.ts';
import { generateProfile } from '../simulator/profile/generate.ts';
import { saveProfile } from '../simulator/profile/io.ts';
import { benchPinPath, expectSw, type PinPathOptions } from './pin-path.ts';
import { fmt, median, throughput } from './stats.ts';
import type { Row } from './table.ts';

/** The PIN path rows: each sample at least 100 ms, 7 samples (median, min, max). */
const PIN_PATH: PinPathOptions = { minMs: 100, samples: 7 };

const send = (card: { transmit(c: Uint8Array): Uint8Array }, hex: string, sw = 0x9000) => expectSw(card, fromHex(hex), sw, 'set-up');

export async function benchInProcess(log: (s: string) => void): Promise<Row[]> {
  const rows: Row[] = [];
  const cmd = 'npm run bench -- --only in-process';

  log('generating cards (5 runs) …');
  const genTimes: number[] = [];
  let profile = await generateProfile({});
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    profile = await generateProfile({});
    cardFromProfile(profile);
    genTimes.push(performance.now() - t0);
  }
  const gen = median(genTimes);
  rows.push({ what: 'card generation (profile + card), median of 5', value: `${fmt(gen)} ms`, target: '< 2000 ms', pass: gen < 2000, command: cmd });

  const derive: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    deriveFiles(profile);
    derive.push(performance.now() - t0);
  }
  const d = median(derive);
  rows.push({
    what: 'deriving every EF from a profile (each card build), median of 20',
    value: `${fmt(d, 1)} ms`,
    target: '< 50 ms',
    pass: d < 50,
    command: cmd,
  });

  const card = cardFromProfile(profile);
  card.powerUp();
  send(card, '00A4040C0AD392F000260100000001');
  send(card, '00A4020C020018');
  const query = fromHex('00200080');
  log('VERIFY query …');
  const q = median(throughput(() => card.transmit(query), 200_000));
  rows.push({
    what: 'VERIFY query `00 20 00 80` (63 C3): no try spent, nothing saved',
    value: `${fmt(q)} APDU/s`,
    target: '> 200,000/s',
    pass: q > 200_000,
    command: cmd,
  });

  const select = fromHex('00A4020C020018');
  log('SELECT EF …');
  const s = median(throughput(() => card.transmit(select), 200_000));
  rows.push({ what: 'SELECT EF `00 A4 02 0C 02 00 18`', value: `${fmt(s)} APDU/s`, target: '> 200,000/s', pass: s > 200_000, command: cmd });

  send(card, '00A4020C02000A');
  const read = fromHex('00B0000000');
  log('READ BINARY 256 …');
  const rd = median(throughput(() => card.transmit(read), 200_000));
  rows.push({ what: 'READ BINARY 256 bytes `00 B0 00 00 00`', value: `${fmt(rd)} APDU/s`, target: '> 100,000/s', pass: rd > 100_000, command: cmd });

  send(card, '00A4020C020018');
  send(card, `00200080${Buffer.from(profile.pins.auth.value).length.toString(16).padStart(2, '0')}${Buffer.from(profile.pins.auth.value).toString('hex')}`);
  send(card, '00A4020C020017');
  const message = Buffer.from('benchmark message');
  const di = Buffer.concat([SHA256_DIGESTINFO_PREFIX, createHash('sha256').update(message).digest()]);
  const sigCmd = Buffer.concat([fromHex('802A008033'), di, Uint8Array.of(0)]);
  const key = createPrivateKey(profile.keys.auth);
  log('RSA-2048 signatures: card and bare node:crypto, interleaved …');
  const cardRates: number[] = [];
  const bareRates: number[] = [];
  for (let r = 0; r < 5; r++) {
    cardRates.push(...throughput(() => card.transmit(sigCmd), 300, 1));
    bareRates.push(...throughput(() => sign('sha256', message, key), 300, 1));
  }
  const cr = median(cardRates);
  const br = median(bareRates);
  rows.push({
    what: 'RSA-2048 signature `80 2A 00 80` by the card',
    value: `${fmt(cr)} sig/s`,
    target: 'within 10% of bare',
    pass: cr >= 0.9 * br,
    command: cmd,
  });
  rows.push({
    what: 'RSA-2048 `crypto.sign` bare, same run',
    value: `${fmt(br)} sig/s (card/bare ${fmt(cr / br, 3)})`,
    target: '(reference)',
    pass: true,
    command: cmd,
  });

  rows.push(...benchPinPath(profile, log, PIN_PATH));

  log('peak memory of a process holding one card …');
  const dir = mkdtempSync(join(tmpdir(), 'myna-hil-bench-'));
  const file = join(dir, 'card.json');
  saveProfile(file, profile);
  // The first run builds the child's bundle if a source changed (esbuild in the process): not measured.
  execFileSync(process.execPath, ['bin/run-ts.mjs', 'bench/hold-card.ts', file], { encoding: 'utf8' });
  const out = execFileSync(process.execPath, ['bin/run-ts.mjs', 'bench/hold-card.ts', file], { encoding: 'utf8' });
  const mem = JSON.parse(out.trim().split('\n').pop()!) as { vmHwmKb: number };
  const mb = mem.vmHwmKb / 1024;
  rows.push({
    what: 'peak RSS (VmHWM) of a process holding one card',
    value: `${fmt(mb, 1)} MB`,
    target: '< 100 MB',
    pass: mb < 100,
    command: 'node bin/run-ts.mjs bench/hold-card.ts <profile.json>',
  });
  return rows;
}
