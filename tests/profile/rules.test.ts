/**
 * Property tests of the value rules the generator enforces: the My Number check digit and the
 * signature password format.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isValidMyNumber, isValidSignPassword, myNumberCheckDigit } from '../../simulator/profile/schema.ts';
import { generateProfile } from '../../simulator/profile/generate.ts';
import { InputError } from '../../simulator/errors.ts';

const digitString = (n: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((d) => d.join(''));
const weightedSum = (first11: string) => {
  let s = 0;
  for (let n = 1; n <= 11; n++) s += Number(first11[11 - n]) * (n <= 6 ? n + 1 : n - 5);
  return s;
};

describe('My Number check digit', () => {
  it('the spec example 123456789018 is valid', () => {
    expect(isValidMyNumber('123456789018')).toBe(true);
    expect(myNumberCheckDigit('12345678901')).toBe(8);
  });

  it('any 11 digits followed by their computed check digit are valid', () => {
    fc.assert(fc.property(digitString(11), (d) => isValidMyNumber(d + myNumberCheckDigit(d))));
  });

  it('changing the check digit always makes the number invalid', () => {
    fc.assert(
      fc.property(digitString(11), fc.integer({ min: 1, max: 9 }), (d, delta) => {
        const c = myNumberCheckDigit(d);
        return !isValidMyNumber(d + ((c + delta) % 10));
      }),
    );
  });

  // Weights are 2..7 and 11 is prime, so a one-digit change always moves the sum mod 11; but
  // remainders 0 and 1 both give check digit 0, so a change between those two goes undetected.
  it('changing one of the first 11 digits makes it invalid unless the remainder moves between 0 and 1', () => {
    fc.assert(
      fc.property(digitString(11), fc.integer({ min: 0, max: 10 }), fc.integer({ min: 1, max: 9 }), (d, pos, delta) => {
        const valid = d + myNumberCheckDigit(d);
        const changed = valid.slice(0, pos) + ((Number(valid[pos]) + delta) % 10) + valid.slice(pos + 1);
        const before = weightedSum(d) % 11,
          after = weightedSum(changed.slice(0, 11)) % 11;
        expect(after).not.toBe(before);
        const undetectable = before <= 1 && after <= 1;
        return isValidMyNumber(changed) === undetectable;
      }),
    );
  });

  it('so the single-digit claim is false in general: a counterexample exists', () => {
    // Search deterministically for a valid number and a single-digit change that stays valid.
    let found: [string, string] | undefined;
    for (let i = 0; i < 100_000 && !found; i++) {
      const d = String(i * 7919)
        .padStart(11, '0')
        .slice(-11);
      const v = d + myNumberCheckDigit(d);
      for (let pos = 0; pos < 11 && !found; pos++) {
        for (let x = 0; x <= 9 && !found; x++) {
          const w = v.slice(0, pos) + x + v.slice(pos + 1);
          if (w !== v && isValidMyNumber(w)) found = [v, w];
        }
      }
    }
    expect(found).toBeDefined();
    expect(isValidMyNumber(found![0]) && isValidMyNumber(found![1])).toBe(true);
  });
});

describe('signature password rule (6-16 of A-Z 0-9, at least one letter and one digit)', () => {
  const upper = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ');
  const digit = fc.constantFrom(...'0123456789');
  const alnum = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');

  it('accepts every password of the allowed shape', () => {
    const valid = fc
      .tuple(upper, digit, fc.array(alnum, { minLength: 4, maxLength: 14 }))
      .chain(([l, d, rest]) => fc.shuffledSubarray([l, d, ...rest], { minLength: rest.length + 2, maxLength: rest.length + 2 }))
      .map((cs) => cs.join(''));
    fc.assert(fc.property(valid, (p) => isValidSignPassword(p)));
  });

  it('rejects letters only and digits only', () => {
    fc.assert(fc.property(fc.array(upper, { minLength: 6, maxLength: 16 }), (cs) => !isValidSignPassword(cs.join(''))));
    fc.assert(fc.property(fc.array(digit, { minLength: 6, maxLength: 16 }), (cs) => !isValidSignPassword(cs.join(''))));
  });

  it('rejects wrong lengths', () => {
    fc.assert(fc.property(fc.array(alnum, { minLength: 0, maxLength: 5 }), (cs) => !isValidSignPassword(`${cs.join('')}`.slice(0, 5))));
    fc.assert(fc.property(fc.array(alnum, { minLength: 15, maxLength: 30 }), (cs) => !isValidSignPassword(`A1${cs.join('')}`)));
  });

  it('rejects any character outside A-Z 0-9 (lower case included)', () => {
    const other = fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }).filter((c) => !/[A-Z0-9]/.test(c));
    fc.assert(
      fc.property(other, fc.integer({ min: 0, max: 6 }), (c, at) => !isValidSignPassword(('ABC123X'.slice(0, at) + c + 'ABC123X'.slice(at)).slice(0, 16))),
    );
  });

  it('the generator refuses a bad password with an InputError naming the option, before any key is made', async () => {
    for (const bad of ['abc123', 'ABCDEF', '123456', 'AB12', 'ABC-123']) {
      const err = await generateProfile({ signPin: bad }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(/^option signPin \(--sign-pin\): .* \(fix: /);
      expect((err as Error).message).not.toContain(bad); // PIN values are never echoed
    }
  });
});
