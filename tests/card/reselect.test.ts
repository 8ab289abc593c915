/**
 * behaviour.selectDfClearsVerified (selecting another application) and behaviour.reselectClearsVerified
 * (re-selecting the application already selected) are separate options: all four combinations.
 * Observed through the card's answers: the auth key signs (90 00) only while the auth PIN is verified.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { VirtualCard } from '../../simulator/card/card.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { testCard, testProfile, tx, verifyCmd } from '../support/card.ts';

const JPKI = '00A4040C0AD392F000260100000001';
const TEXT = '00A4040C0AD3921000310001010408';

let profile: Profile;
beforeAll(async () => {
  profile = await testProfile();
});

function verifiedAuth(card: VirtualCard): void {
  expect(tx(card, JPKI).swHex).toBe('9000');
  expect(tx(card, '00A4020C020018').swHex).toBe('9000');
  expect(tx(card, verifyCmd(profile.pins.auth.value)).swHex).toBe('9000');
}

/** The SW of a signature with the auth key (in the JPKI AP): 90 00 verified, 69 82 not. */
function signSw(card: VirtualCard): string {
  expect(tx(card, '00A4020C020017').swHex).toBe('9000');
  return tx(card, '802A00800100').swHex;
}

describe('clearing verified flags on SELECT by AID', () => {
  it('defaults: both true (docs/card.md §9.2)', () => {
    expect(profile.behaviour.selectDfClearsVerified).toBe(true);
    expect(profile.behaviour.reselectClearsVerified).toBe(true);
  });

  it.each([
    [true, true],
    [true, false],
    [false, true],
    [false, false],
  ])('selectDfClearsVerified=%s, reselectClearsVerified=%s', (other, same) => {
    const p: Profile = structuredClone(profile);
    p.behaviour.selectDfClearsVerified = other;
    p.behaviour.reselectClearsVerified = same;
    const card = testCard(p);

    verifiedAuth(card);
    expect(tx(card, JPKI).swHex).toBe('9000'); // the same application again
    expect(card.isVerified('auth')).toBe(!same);
    expect(signSw(card)).toBe(same ? '6982' : '9000');

    verifiedAuth(card);
    expect(tx(card, TEXT).swHex).toBe('9000'); // another application, then back
    expect(tx(card, JPKI).swHex).toBe('9000');
    expect(card.isVerified('auth')).toBe(!other);
    expect(signSw(card)).toBe(other ? '6982' : '9000');
  });
});
