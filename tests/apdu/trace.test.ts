/**
 * The APDU trace line (simulator/apdu/trace.ts): PIN-carrying commands show their header only,
 * whatever their shape, and long commands are shortened. The search for PIN values in every log is
 * tests/security/no-pin-in-logs.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../simulator/apdu/codec.ts';
import { formatExchange, redactCommand, TRACE_FULL_MAX, TRACE_HEAD_BYTES } from '../../simulator/apdu/trace.ts';

const PIN_INS = [0x20, 0x24, 0x2c, 0x32];

describe('redactCommand', () => {
  it('hides everything after the header of a malformed VERIFY (the Lc 00 is not an extended header)', () => {
    expect(redactCommand(fromHex('00 20 00 80 00 31 32 33 34'))).toBe('00 20 00 80 <redacted>');
  });

  it.each([
    ['00 20 00 80 04 31 32 33 34', '00 20 00 80 <redacted>'], // VERIFY
    ['00 24 01 80 06 31 32 33 34 35 36', '00 24 01 80 <redacted>'], // CHANGE REFERENCE DATA
    ['00 2C 00 80 04 31 32 33 34', '00 2C 00 80 <redacted>'], // RESET RETRY COUNTER
    ['80 32 00 80 04 39 39 39 39', '80 32 00 80 <redacted>'], // the card's CHANGE KEY
    ['00 20 00 80 00 00 04 31 32 33 34', '00 20 00 80 <redacted>'], // extended form
    ['0C 20 00 81 01', '0C 20 00 81 <redacted>'], // a lone Lc: its value is the PIN's length
    ['00 20 00 80', '00 20 00 80'], // bare header (a retry-counter query): nothing to redact
    ['00 20 00', '00 20 00'], // shorter than a header
  ])('%s is logged as %s', (hex, line) => {
    expect(redactCommand(fromHex(hex))).toBe(line);
  });

  it('a short and a long sign password give the same line: the length is secret too', () => {
    const verify = (pw: string) => Uint8Array.from([0x00, 0x20, 0x00, 0x9b, pw.length, ...Buffer.from(pw)]);
    expect(redactCommand(verify('AB12CD'))).toBe(redactCommand(verify('ABCDEF1234567890')));
  });

  it('shows only the 4-byte header of any PIN-carrying command, whatever follows (property)', () => {
    fc.assert(
      fc.property(
        fc.nat(255),
        fc.constantFrom(...PIN_INS),
        fc.nat(255),
        fc.nat(255),
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        (cla, ins, p1, p2, rest) => {
          const cmd = Uint8Array.from([cla, ins, p1, p2, ...rest]);
          expect(redactCommand(cmd)).toBe(`${toHex(cmd.subarray(0, 4), ' ')} <redacted>`);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('shows other commands in full up to the limit', () => {
    const select = fromHex('00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01');
    expect(redactCommand(select)).toBe('00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01');
    const atLimit = Uint8Array.from({ length: TRACE_FULL_MAX }, (_, i) => i);
    expect(redactCommand(atLimit)).toBe(toHex(atLimit, ' '));
  });
});

describe('formatExchange', () => {
  it('logs a huge command as its first bytes and its length', () => {
    // COMPUTE DIGITAL SIGNATURE, extended, with 1200 bytes of data: 1207 bytes in all.
    const cmd = Uint8Array.from([0x80, 0x2a, 0x00, 0x80, 0x00, 0x04, 0xb0, ...Array.from({ length: 1200 }, (_, i) => i & 0xff)]);
    expect(formatExchange(cmd, fromHex('90 00'))).toBe(
      '> 80 2A 00 80 00 04 B0 00 01 02 03 04 05 06 07 08 … (1207 bytes)  (COMPUTE DIGITAL SIGNATURE)\n< 9000 (OK)',
    );
  });

  it('cuts just past the limit', () => {
    const cmd = Uint8Array.from({ length: TRACE_FULL_MAX + 1 }, () => 0xab);
    expect(formatExchange(cmd, fromHex('6D 00')).split('\n')[0]).toBe(
      `> ${Array(TRACE_HEAD_BYTES).fill('AB').join(' ')} … (${TRACE_FULL_MAX + 1} bytes)  (INS AB)`,
    );
  });

  it('logs a huge response by its length and status word only', () => {
    const rsp = new Uint8Array(1202).fill(0x5a);
    rsp.set([0x90, 0x00], 1200);
    expect(formatExchange(fromHex('00 B0 00 00 00 04 B0'), rsp, 1.5)).toBe('> 00 B0 00 00 00 04 B0  (READ BINARY)\n< 1200 bytes 9000 (OK) 1.500 ms');
  });

  it('a malformed VERIFY is logged with no PIN byte', () => {
    expect(formatExchange(fromHex('00 20 00 80 00 31 32 33 34'), fromHex('67 00'))).toBe('> 00 20 00 80 <redacted>  (VERIFY)\n< 6700 (WRONG_LENGTH)');
  });
});
