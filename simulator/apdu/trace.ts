/**
 * One readable text line per APDU, with PIN data redacted: VERIFY (00 20), CHANGE REFERENCE DATA
 * (00 24), RESET RETRY COUNTER (00 2C) and CHANGE KEY (80 32) never show their data in logs, traces
 * or reports.
 */
import { toHex } from './codec.ts';
import { swHex, swName } from './sw.ts';

const NAMES: Record<string, string> = {
  '00A4': 'SELECT',
  '00B0': 'READ BINARY',
  '00B2': 'READ RECORD',
  '0020': 'VERIFY',
  '0024': 'CHANGE REFERENCE DATA',
  '0084': 'GET CHALLENGE',
  '0088': 'INTERNAL AUTHENTICATE',
  '00CA': 'GET DATA',
  '00C0': 'GET RESPONSE',
  '802A': 'COMPUTE DIGITAL SIGNATURE',
  '8032': 'CHANGE KEY',
};

/** INS whose data is a PIN or another secret: VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, CHANGE KEY. */
const SECRET_INS = new Set([0x20, 0x24, 0x2c, 0x32]);

/** True when the command's data is a PIN or another secret (any CLA: over-redacting is harmless). */
export function carriesPin(cmd: Uint8Array): boolean {
  return cmd.length > 5 && SECRET_INS.has(cmd[1]);
}

/** Hex of a command with PIN data replaced by `<n bytes redacted>` (the header and Lc stay). */
export function redactCommand(cmd: Uint8Array): string {
  if (!carriesPin(cmd)) return toHex(cmd, ' ');
  const extended = cmd[4] === 0 && cmd.length > 7;
  const headerLen = extended ? 7 : 5;
  const n = cmd.length - headerLen;
  return `${toHex(cmd.subarray(0, headerLen), ' ')} <${n} bytes redacted>`;
}

export function commandName(cmd: Uint8Array): string {
  if (cmd.length < 2) return 'MALFORMED';
  const key = toHex(Uint8Array.of(cmd[0] & 0xf0, cmd[1]));
  return NAMES[key] ?? `INS ${toHex(cmd.subarray(1, 2))}`;
}

/** `> 00 A4 04 0C 0A D3 .. (SELECT)` / `< 90 00 (OK)` lines. */
export function formatExchange(cmd: Uint8Array, rsp: Uint8Array, ms?: number): string {
  const sw = rsp.length >= 2 ? (rsp[rsp.length - 2] << 8) | rsp[rsp.length - 1] : -1;
  const data = rsp.length > 2 ? `${rsp.length - 2} bytes ` : '';
  const t = ms === undefined ? '' : ` ${ms.toFixed(3)} ms`;
  return `> ${redactCommand(cmd)}  (${commandName(cmd)})\n< ${data}${sw < 0 ? '(no status word)' : `${swHex(sw)} (${swName(sw)})`}${t}`;
}
