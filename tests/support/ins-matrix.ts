/**
 * The instruction matrix: the status word a fresh card answers for every CLA of a fixed list x every
 * INS 00..FF x a few fixed bodies, with no DF selected and with the JPKI AP selected. It is recorded
 * once (tests/card/fixtures/ins-matrix.json) and replayed by tests/card/ins-matrix.test.ts, so that a
 * change in how the card dispatches commands (docs/card.md §5, §9.9) shows up as a changed cell.
 *
 * Compact form: per state, CLA and body one string, the most frequent status word under `*` and
 * the INS that answer something else under their own hex byte.
 */
import { fromHex } from '../../simulator/apdu/codec.ts';
import type { VirtualCard } from '../../simulator/card/card.ts';
import { tx } from './card.ts';

/** Class bytes: interindustry, proprietary, SM, chaining, further interindustry, and combinations. */
export const MATRIX_CLAS = [0x00, 0x80, 0x04, 0x0c, 0x10, 0x40, 0x84, 0x90, 0xff] as const;

/** What follows the header (P1 P2 = 00 00): cases 1 to 4, hex. */
export const MATRIX_BODIES = {
  none: '',
  le: '00',
  data2: '02 0018',
  data2le: '02 0018 00',
  data8le: '08 0102030405060708 00',
} as const;
export type BodyName = keyof typeof MATRIX_BODIES;

export const MATRIX_STATES = {
  mf: [] as string[],
  jpki: ['00A4040C0AD392F000260100000001'],
} as const;
export type StateName = keyof typeof MATRIX_STATES;

/**
 * One row, the status words of INS 00..FF: the usual one, then the INS that answer another, e.g.
 * `*=6D00 20=6A86 A4=6A82` (a string, so that the fixture has one short line per row).
 */
export type MatrixRow = string;
/** state -> `CLA xx` -> body -> row */
export type InsMatrix = Record<StateName, Record<string, Record<BodyName, MatrixRow>>>;

const hex2 = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');

export function matrixCommand(cla: number, ins: number, body: BodyName): Uint8Array {
  return fromHex(`${hex2(cla)}${hex2(ins)}0000${MATRIX_BODIES[body].replace(/\s/g, '')}`);
}

/** Puts `card` back in `state` as a fresh card would be: volatile state cleared, then the state's SELECTs. */
function enter(card: VirtualCard, state: StateName): void {
  card.reset();
  for (const cmd of MATRIX_STATES[state]) {
    const r = tx(card, cmd);
    if (r.swHex !== '9000') throw new Error(`entering state ${state}: ${cmd} answered ${r.swHex}`);
  }
}

function compactRow(sws: string[]): MatrixRow {
  const counts = new Map<string, number>();
  for (const sw of sws) counts.set(sw, (counts.get(sw) ?? 0) + 1);
  const usual = [...counts].sort((a, b) => b[1] - a[1])[0][0];
  const others = sws.flatMap((sw, ins) => (sw === usual ? [] : [`${hex2(ins)}=${sw}`]));
  return [`*=${usual}`, ...others].join(' ');
}

/**
 * Records the matrix on `card`. The card must start fresh and must not write its state file while
 * this runs (the caller checks): then reset() makes every command meet a fresh card.
 */
export function recordInsMatrix(card: VirtualCard): InsMatrix {
  const out = {} as InsMatrix;
  for (const state of Object.keys(MATRIX_STATES) as StateName[]) {
    out[state] = {};
    for (const cla of MATRIX_CLAS) {
      const rows = {} as Record<BodyName, MatrixRow>;
      for (const body of Object.keys(MATRIX_BODIES) as BodyName[]) {
        const sws: string[] = [];
        for (let ins = 0; ins < 256; ins++) {
          enter(card, state);
          sws.push(tx(card, matrixCommand(cla, ins, body)).swHex);
        }
        rows[body] = compactRow(sws);
      }
      out[state][`CLA ${hex2(cla)}`] = rows;
    }
  }
  return out;
}
