/**
 * One readable text line per APDU, with PIN data redacted: VERIFY (INS 20), CHANGE REFERENCE DATA
 * (24), RESET RETRY COUNTER (2C) and CHANGE KEY (32) never show anything after their header (CLA INS
 * P1 P2) in logs, traces or reports, whatever their shape. Long commands are shortened, and
 * responses are logged by length only (their data may be the holder's personal data).
 */
import { toHex } from './codec.ts';
import { swHex, swName } from './sw.ts';

const NAMES: Record<string, string> = {
  '00A4': 'SELECT',
  '00B0': 'READ BINARY',
  '00B2': 'READ RECORD',
  '0020': 'VERIFY',
  '0024': 'CHANGE REFERENCE DATA',
  '002C': 'RESET RETRY COUNTER',
  '0084': 'GET CHALLENGE',
  '0088': 'INTERNAL AUTHENTICATE',
  '00CA': 'GET DATA',
  '00C0': 'GET RESPONSE',
  '802A': 'COMPUTE DIGITAL SIGNATURE',
  '8032': 'CHANGE KEY',
};

/** INS whose data is a PIN or another secret: VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, CHANGE KEY. */
const SECRET_INS = new Set([0x20, 0x24, 0x2c, 0x32]);

/** The header (CLA INS P1 P2): the only part of a PIN-carrying command a log may show. */
const HEADER_LEN = 4;

/** Commands up to this many bytes are logged in full (every SELECT, READ BINARY, GET DATA of the card). */
export const TRACE_FULL_MAX = 32;
/** A longer command is logged as its first this many bytes and its length: a log line stays short. */
export const TRACE_HEAD_BYTES = 16;

/**
 * True when the command has bytes after its header and its INS may carry a PIN (any CLA:
 * over-redacting is harmless). Decided on the INS alone, never on the parsed shape: a malformed
 * VERIFY (Lc lying, extended, trailing bytes) carries the PIN just the same.
 */
export function carriesPin(cmd: Uint8Array): boolean {
  return cmd.length > HEADER_LEN && SECRET_INS.has(cmd[1]);
}

/** Spaced hex, or for long input its first {@link TRACE_HEAD_BYTES} bytes then `… (n bytes)`. */
function shortHex(bytes: Uint8Array): string {
  if (bytes.length <= TRACE_FULL_MAX) return toHex(bytes, ' ');
  return `${toHex(bytes.subarray(0, TRACE_HEAD_BYTES), ' ')} … (${bytes.length} bytes)`;
}

/**
 * Hex of a command for logs. A PIN-carrying command shows its 4-byte header then `<redacted>`:
 * Lc and everything after it are hidden, because the length of a sign password is secret too.
 */
export function redactCommand(cmd: Uint8Array): string {
  if (!carriesPin(cmd)) return shortHex(cmd);
  return `${toHex(cmd.subarray(0, HEADER_LEN), ' ')} <redacted>`;
}

export function commandName(cmd: Uint8Array): string {
  if (cmd.length < 2) return 'MALFORMED';
  const key = toHex(Uint8Array.of(cmd[0] & 0xf0, cmd[1]));
  return NAMES[key] ?? `INS ${toHex(cmd.subarray(1, 2))}`;
}

/**
 * `> 00 A4 04 0C 0A D3 .. (SELECT)` / `< 9000 (OK)` lines; `> 00 20 00 80 <redacted>  (VERIFY)`;
 * `< 1200 bytes 9000 (OK)` (response data never shown).
 */
export function formatExchange(cmd: Uint8Array, rsp: Uint8Array, ms?: number): string {
  const sw = rsp.length >= 2 ? (rsp[rsp.length - 2] << 8) | rsp[rsp.length - 1] : -1;
  const data = rsp.length > 2 ? `${rsp.length - 2} bytes ` : '';
  const t = ms === undefined ? '' : ` ${ms.toFixed(3)} ms`;
  return `> ${redactCommand(cmd)}  (${commandName(cmd)})\n< ${data}${sw < 0 ? '(no status word)' : `${swHex(sw)} (${swName(sw)})`}${t}`;
}
