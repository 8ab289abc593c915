/**
 * The measurement of the PC/SC group: round trips through pcscd, timed with process.hrtime around the
 * client's transmit(), with every status word checked. Two cards at a time, their APDU streams
 * interleaved in blocks, so that load from other processes on this shared machine falls on both alike.
 */
import type { ChildProcess } from 'node:child_process';
import { fromHex, toHex } from '../../simulator/apdu/codec.ts';
import { loadavg } from '../machine.ts';
import { median } from '../stats.ts';
import { label, type Inserted } from './cards.ts';
import { fmtUs } from './rows.ts';

export const SELECT_JPKI = fromHex('00A4040C0AD392F000260100000001');
export const SELECT_PIN_EF = fromHex('00A4020C020018');
export const VERIFY_QUERY = fromHex('00200080');
/** vicc's iso7816 card crashes on SELECT with P2=00 (docs/pcsc-stack.md §3.3); SELECT MF with P2=0C → 90 00. */
export const SELECT_MF = fromHex('00A4000C023F00');
/** Short APDUs only: the largest response is 256 bytes + SW. */
const MAX_RESPONSE = 258;
const WARMUP = 20;

export interface Probe {
  id: string;
  ins: Inserted;
  /** Untimed APDUs sent before each block (e.g. SELECT EF for the VERIFY query). */
  setup: Uint8Array[];
  apdu: Uint8Array;
  expectSw: number;
  samples: number[];
}

export const probe = (id: string, ins: Inserted, apdu: Uint8Array, expectSw = 0x9000, setup: Uint8Array[] = []): Probe => ({
  id,
  ins,
  apdu,
  expectSw,
  setup,
  samples: [],
});

/** Ours: SELECT JPKI AP → 90 00, and (unless `verify` is false) the VERIFY query on EF 0018 → 63 C3. */
export const oursProbes = (ins: Inserted, tag: string, verify = true): Probe[] => [
  probe(`ours ${tag} SELECT`, ins, SELECT_JPKI),
  ...(verify ? [probe(`ours ${tag} VERIFY?`, ins, VERIFY_QUERY, 0x63c3, [SELECT_JPKI, SELECT_PIN_EF])] : []),
];

const swOf = (r: Uint8Array) => (r.length >= 2 ? (r[r.length - 2] << 8) | r[r.length - 1] : -1);

function checkSw(who: string, apdu: Uint8Array, r: Uint8Array, expectSw: number): void {
  if (swOf(r) !== expectSw) throw new Error(`${who}: ${toHex(apdu)} answered ${toHex(r) || '(nothing)'}, expected ${expectSw.toString(16).toUpperCase()}`);
}

async function send(ins: Inserted, apdu: Uint8Array, expectSw: number): Promise<void> {
  checkSw(label(ins.spec), apdu, await ins.handle.transmit(apdu, { maxResponseLength: MAX_RESPONSE }), expectSw);
}

/**
 * Times APDUs and watches that they keep coming: vpcd has no timeouts, so a card that stops answering
 * would hang transmit() forever. After 30 s without progress the watchdog kills the card processes,
 * which makes the pending call fail instead.
 */
export class Measurer {
  private progress = 0;
  private readonly watchdog: NodeJS.Timeout;

  constructor(
    live: Set<ChildProcess>,
    private readonly log: (s: string) => void,
  ) {
    let seen = -1;
    let stuckSince = Date.now();
    let fired = false;
    this.watchdog = setInterval(() => {
      if (this.progress !== seen) {
        seen = this.progress;
        stuckSince = Date.now();
      } else if (Date.now() - stuckSince > 30_000 && !fired) {
        fired = true;
        log('pcsc: no progress for 30 s (a card stopped answering?): stopping the card processes');
        for (const p of live) p.kill('SIGKILL');
      }
    }, 1000);
    this.watchdog.unref();
  }

  stop(): void {
    clearInterval(this.watchdog);
  }

  /**
   * Warm-up, then N timed APDUs per entry of `rotation`, interleaved in blocks. A probe may appear
   * twice (then it gets 2N samples): [ours SELECT, floor, ours VERIFY, floor] keeps each card process
   * idle for the same time between its blocks, which a plain [SELECT, VERIFY, floor] would not.
   */
  async measure(title: string, rotation: Probe[], n: number, block: number): Promise<void> {
    const probes = [...new Set(rotation)];
    this.log(
      `pcsc: ${title}: ${rotation.map((p) => p.id).join(' → ')}: ${WARMUP} warm-ups, then N=${n} per turn, interleaved in blocks of ${block} (load ${loadavg()})`,
    );
    for (const p of probes) {
      for (const s of p.setup) await send(p.ins, s, 0x9000);
      for (let i = 0; i < WARMUP; i++) await send(p.ins, p.apdu, p.expectSw);
    }
    let lastReport = 0;
    for (let done = 0; done < n; done += block) {
      const k = Math.min(block, n - done);
      for (const p of rotation) await this.timeBlock(p, k);
      const quarter = Math.floor(((done + k) / n) * 4);
      if (quarter > lastReport) {
        lastReport = quarter;
        this.log(`pcsc:   ${(done + k).toString().padStart(4)}/${n}  ${probes.map((p) => `${p.id} median ${fmtUs(median(p.samples))}`).join(', ')}`);
      }
    }
  }

  /** The probe's untimed set-up, then `k` timed APDUs. */
  private async timeBlock(p: Probe, k: number): Promise<void> {
    for (const s of p.setup) await send(p.ins, s, 0x9000);
    const { handle } = p.ins;
    for (let i = 0; i < k; i++) {
      const t0 = process.hrtime.bigint();
      const r = await handle.transmit(p.apdu, { maxResponseLength: MAX_RESPONSE });
      const dt = Number(process.hrtime.bigint() - t0) / 1000;
      checkSw(p.id, p.apdu, r, p.expectSw);
      p.samples.push(dt);
      this.progress++;
    }
  }
}
