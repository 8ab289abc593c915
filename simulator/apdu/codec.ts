/**
 * ISO/IEC 7816-4 command and response APDUs: cases 1-4, short and extended length.
 *
 * Parsing never throws anything but a {@link CardError} carrying the status word the card answers
 * for that malformation (67 00 for every length inconsistency).
 */
import { CardError, SW } from './sw.ts';

export type ApduCase = 1 | 2 | 3 | 4;

export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  /** Command data (empty for cases 1 and 2). A view into the input buffer, not a copy. */
  data: Uint8Array;
  /** Ne, the maximum response length: 0 when absent (cases 1, 3); 256 / 65536 for Le = 00 / 0000. */
  ne: number;
  case: ApduCase;
  extended: boolean;
}

const EMPTY = new Uint8Array(0);

/** Parses a command APDU. Throws CardError(6700) on any length inconsistency. */
export function parseCommand(raw: Uint8Array): CommandApdu {
  const n = raw.length;
  if (n < 4) throw new CardError(SW.WRONG_LENGTH, 'APDU shorter than 4 bytes');
  const cla = raw[0],
    ins = raw[1],
    p1 = raw[2],
    p2 = raw[3];
  if (n === 4) return { cla, ins, p1, p2, data: EMPTY, ne: 0, case: 1, extended: false };
  const b4 = raw[4];
  if (n === 5) return { cla, ins, p1, p2, data: EMPTY, ne: b4 === 0 ? 256 : b4, case: 2, extended: false };
  if (b4 !== 0) {
    // short case 3 or 4
    if (n === 5 + b4) return { cla, ins, p1, p2, data: raw.subarray(5, 5 + b4), ne: 0, case: 3, extended: false };
    if (n === 6 + b4) {
      const le = raw[n - 1];
      return { cla, ins, p1, p2, data: raw.subarray(5, 5 + b4), ne: le === 0 ? 256 : le, case: 4, extended: false };
    }
    throw new CardError(SW.WRONG_LENGTH, `short Lc ${b4} does not match APDU length ${n}`);
  }
  // b4 == 0 and n >= 6: extended length
  if (n === 6) throw new CardError(SW.WRONG_LENGTH, 'truncated extended length field');
  const x = (raw[5] << 8) | raw[6];
  if (n === 7) return { cla, ins, p1, p2, data: EMPTY, ne: x === 0 ? 65536 : x, case: 2, extended: true };
  if (x === 0) throw new CardError(SW.WRONG_LENGTH, 'extended Lc of 0');
  if (n === 7 + x) return { cla, ins, p1, p2, data: raw.subarray(7, 7 + x), ne: 0, case: 3, extended: true };
  if (n === 9 + x) {
    const le = (raw[n - 2] << 8) | raw[n - 1];
    return { cla, ins, p1, p2, data: raw.subarray(7, 7 + x), ne: le === 0 ? 65536 : le, case: 4, extended: true };
  }
  throw new CardError(SW.WRONG_LENGTH, `extended Lc ${x} does not match APDU length ${n}`);
}

export interface CommandInit {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data?: Uint8Array;
  /** Ne: undefined or 0 for no Le; 1..256 short, up to 65536 extended. */
  ne?: number;
  /** Force extended length encoding even when short would do. */
  extended?: boolean;
}

/** Encodes a command APDU, choosing short encoding unless a field needs extended length. */
export function encodeCommand(c: CommandInit): Uint8Array {
  const data = c.data ?? EMPTY;
  const ne = c.ne ?? 0;
  if (data.length > 65535) throw new RangeError('command data longer than 65535 bytes');
  if (ne < 0 || ne > 65536) throw new RangeError('Ne out of range');
  const extended = c.extended || data.length > 255 || ne > 256;
  const out: number[] = [c.cla & 0xff, c.ins & 0xff, c.p1 & 0xff, c.p2 & 0xff];
  if (!extended) {
    if (data.length > 0) out.push(data.length, ...data);
    if (ne > 0) out.push(ne === 256 ? 0 : ne);
    return Uint8Array.from(out);
  }
  if (data.length > 0) {
    out.push(0, data.length >> 8, data.length & 0xff, ...data);
    if (ne > 0) out.push((ne === 65536 ? 0 : ne) >> 8, (ne === 65536 ? 0 : ne) & 0xff);
  } else if (ne > 0) {
    out.push(0, (ne === 65536 ? 0 : ne) >> 8, (ne === 65536 ? 0 : ne) & 0xff);
  }
  return Uint8Array.from(out);
}

export interface ResponseApdu {
  data: Uint8Array;
  sw: number;
}

/** Builds a response APDU: data followed by SW1 SW2. */
export function encodeResponse(data: Uint8Array | undefined, sw: number): Uint8Array {
  const n = data ? data.length : 0;
  const out = new Uint8Array(n + 2);
  if (data && n) out.set(data, 0);
  out[n] = sw >> 8;
  out[n + 1] = sw & 0xff;
  return out;
}

/** Splits a response APDU into data and status word. Throws RangeError when shorter than 2 bytes. */
export function parseResponse(raw: Uint8Array): ResponseApdu {
  if (raw.length < 2) throw new RangeError(`response APDU of ${raw.length} bytes has no status word`);
  return { data: raw.subarray(0, raw.length - 2), sw: (raw[raw.length - 2] << 8) | raw[raw.length - 1] };
}

/** Hex helpers shared by traces, profiles and tests. */
export function toHex(bytes: Uint8Array, sep = ''): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i && sep) s += sep;
    s += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  }
  return s.toUpperCase();
}

/** Parses hex with optional spaces, colons or dashes. Throws on odd length or non-hex characters. */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/[\s:-]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new SyntaxError(`not a hex string: "${hex}"`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
