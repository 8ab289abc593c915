import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCommand, encodeResponse, fromHex, parseCommand, parseResponse, toHex } from '../../simulator/apdu/codec.ts';
import { CardError } from '../../simulator/apdu/sw.ts';

const header = fc.record({
  cla: fc.integer({ min: 0, max: 255 }),
  ins: fc.integer({ min: 0, max: 255 }),
  p1: fc.integer({ min: 0, max: 255 }),
  p2: fc.integer({ min: 0, max: 255 }),
});

describe('APDU codec', () => {
  it('parses the four short cases of the spec', () => {
    expect(parseCommand(fromHex('00 20 00 80'))).toMatchObject({ case: 1, ne: 0, extended: false });
    expect(parseCommand(fromHex('00 B0 00 00 00'))).toMatchObject({ case: 2, ne: 256 });
    expect(parseCommand(fromHex('00 B0 05 00 8E'))).toMatchObject({ case: 2, ne: 0x8e, p1: 5 });
    const sel = parseCommand(fromHex('00 A4 02 0C 02 00 18'));
    expect(sel).toMatchObject({ case: 3, ne: 0, ins: 0xa4, p1: 2, p2: 0x0c });
    expect(toHex(sel.data)).toBe('0018');
    const sig = parseCommand(fromHex('80 2A 00 80 03 01 02 03 00'));
    expect(sig).toMatchObject({ case: 4, ne: 256, cla: 0x80 });
    expect(toHex(sig.data)).toBe('010203');
  });

  it('parses extended cases', () => {
    expect(parseCommand(fromHex('00 B0 00 00 00 05 8E'))).toMatchObject({ case: 2, ne: 0x58e, extended: true });
    expect(parseCommand(fromHex('00 B0 00 00 00 00 00'))).toMatchObject({ case: 2, ne: 65536, extended: true });
    const c3 = parseCommand(Uint8Array.from([0x80, 0xa2, 0, 0, 0, 0x01, 0x33, ...new Uint8Array(307)]));
    expect(c3).toMatchObject({ case: 3, extended: true });
    expect(c3.data.length).toBe(307);
    const c4 = parseCommand(Uint8Array.from([0x80, 0x2a, 0, 0x80, 0, 0, 1, 0xaa, 0x01, 0x00]));
    expect(c4).toMatchObject({ case: 4, extended: true, ne: 256 });
  });

  it.each(['', '00', '00 A4', '00 A4 04', '00 A4 04 0C 0A D3', '00 B0 00 00 00 05', '00 A4 04 0C 00 00 02 AA', '00 A4 04 0C 03 01 02 03 04 05'])(
    'answers 6700 for malformed %s',
    (hex) => {
      const err = (() => {
        try {
          parseCommand(fromHex(hex));
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(CardError);
      expect((err as CardError).sw).toBe(0x6700);
    },
  );

  it('round-trips every well-formed command (property)', () => {
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 0, max: 65536 }), fc.boolean(), (h, data, ne, ext) => {
        const raw = encodeCommand({ ...h, data, ne, extended: ext });
        const c = parseCommand(raw);
        expect([c.cla, c.ins, c.p1, c.p2]).toEqual([h.cla, h.ins, h.p1, h.p2]);
        expect(toHex(c.data)).toBe(toHex(data));
        expect(c.ne).toBe(ne);
        // case 1 has no length field, so it cannot be extended
        expect(c.extended).toBe((ext && (data.length > 0 || ne > 0)) || data.length > 255 || ne > 256);
        expect(c.case).toBe(data.length ? (ne ? 4 : 3) : ne ? 2 : 1);
      }),
      { numRuns: 5000 },
    );
  });

  it('never throws anything but CardError(6700) on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => {
        try {
          const c = parseCommand(raw);
          expect(c.data.length).toBeLessThanOrEqual(raw.length);
        } catch (e) {
          expect(e).toBeInstanceOf(CardError);
          expect((e as CardError).sw).toBe(0x6700);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('encodes and parses responses', () => {
    expect(toHex(encodeResponse(undefined, 0x63c2))).toBe('63C2');
    expect(toHex(encodeResponse(Uint8Array.of(1, 2), 0x9000))).toBe('01029000');
    const r = parseResponse(fromHex('AABB6982'));
    expect(r.sw).toBe(0x6982);
    expect(toHex(r.data)).toBe('AABB');
    expect(() => parseResponse(Uint8Array.of(0x90))).toThrow(RangeError);
  });
});
