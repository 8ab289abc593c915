/**
 * 100,000 random APDUs never make the card throw, and every answer ends in a two-byte status word.
 * The generator is biased toward the card's own commands, so that deep states are reached: selected
 * APs and EFs, verified PINs, locked PINs.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeCommand } from '../../simulator/apdu/codec.ts';
import { cardFromProfile } from '../../simulator/card/build.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { testProfile } from '../support/card.ts';

const AIDS = ['D392F000260100000001', 'D3921000310001010408', 'D3921000310001010402', 'D3921000310001010401', 'D3921000310001010100', 'A0000001510000'].map((h) => Buffer.from(h, 'hex'));

const byte = fc.integer({ min: 0, max: 255 });
const known = fc.constantFrom(0xa4, 0xb0, 0xb2, 0x20, 0x24, 0x2a, 0x32, 0x84, 0x88, 0xca, 0xc0, 0xa2, 0xae, 0xfc, 0x54);
const structured = fc
  .record({
    cla: fc.oneof(fc.constantFrom(0x00, 0x80), byte),
    ins: fc.oneof(known, byte),
    p1: fc.oneof(fc.constantFrom(0x00, 0x01, 0x02, 0x04, 0x80, 0x81), byte),
    p2: fc.oneof(fc.constantFrom(0x00, 0x0c, 0x80, 0x97, 0x99, 0x9a, 0x0c), byte),
    data: fc.oneof(
      fc.uint8Array({ maxLength: 20 }),
      fc.constantFrom(...AIDS),
      fc.constantFrom(0x01, 0x02, 0x06, 0x0a, 0x11, 0x12, 0x13, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c).map((f) => Uint8Array.of(0, f)),
      fc.uint8Array({ minLength: 200, maxLength: 400 }),
    ),
    ne: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 65536 })),
    extended: fc.boolean(),
  })
  .map((c) => encodeCommand(c));
const raw = fc.uint8Array({ maxLength: 40 });
const apdu = fc.oneof({ weight: 4, arbitrary: structured }, { weight: 1, arbitrary: raw });

describe('robustness', () => {
  let profile: Profile;
  beforeAll(async () => {
    profile = await testProfile();
  });

  it('100,000 random APDUs: never a throw, always a status word', () => {
    const card = cardFromProfile(profile);
    let count = 0;
    const sws = new Set<number>();
    fc.assert(
      fc.property(fc.array(apdu, { minLength: 500, maxLength: 500 }), fc.integer({ min: 0, max: 2 }), (cmds, power) => {
        if (power === 0) card.reset();
        for (const c of cmds) {
          const r = card.transmit(c);
          expect(r.length).toBeGreaterThanOrEqual(2);
          const sw = (r[r.length - 2] << 8) | r[r.length - 1];
          expect(sw >> 8 === 0x90 || sw >> 12 === 6).toBe(true);
          sws.add(sw);
          count++;
        }
      }),
      { numRuns: 200 },
    );
    expect(count).toBe(100_000);
    // the generator reached the card's logic, not only its parser
    for (const sw of [0x9000, 0x6700, 0x6a82, 0x6d00, 0x6e00, 0x6a86, 0x6986]) expect(sws.has(sw), sw.toString(16)).toBe(true);
  });
});
