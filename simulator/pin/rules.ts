/**
 * The value rules of the four user PINs (docs/pin-rules.md §1, docs/card.md §4.1): the one definition
 * the card (CHANGE), the issuer, the profile and the state file all check against. No dependencies
 * beyond the PIN ids.
 */
import type { UserPinId } from './pin.ts';

export const SIGN_PIN_RE = /^[A-Z0-9]{6,16}$/;
export const FOUR_DIGIT_RE = /^\d{4}$/;

/** The sign password when *set*: 6-16 of A-Z0-9 with at least one letter and one digit. */
export function isValidSignPassword(v: string): boolean {
  return SIGN_PIN_RE.test(v) && /[A-Z]/.test(v) && /\d/.test(v);
}

const isFourDigits = (v: string): boolean => FOUR_DIGIT_RE.test(v);

export interface UserPinFormat {
  valid: (value: string) => boolean;
  /** For messages; never shows a value. */
  format: string;
  /** Lengths a value can have, inclusive. */
  lengths: readonly [number, number];
}

const FOUR_DIGITS: UserPinFormat = { valid: isFourDigits, format: '4 digits', lengths: [4, 4] };

/**
 * The one definition of the value each user PIN can hold (docs/pin-rules.md §1, docs/card.md §4.1). The rule for
 * setting a value (CHANGE, issuer) is also the rule for loading one (profile, state file): a card
 * never holds a value it could not have been given, so it never answers 90 00 to one.
 */
export const USER_PIN_FORMATS: Readonly<Record<UserPinId, UserPinFormat>> = {
  sign: { valid: isValidSignPassword, format: '6-16 of A-Z and 0-9 with at least one letter and one digit', lengths: [6, 16] },
  auth: FOUR_DIGITS,
  juki: FOUR_DIGITS,
  kenmen: FOUR_DIGITS,
  common: FOUR_DIGITS,
};

/** Why `value` cannot be the `id` PIN (for an error message, without the value), or undefined when it can. */
export function userPinValueProblem(id: UserPinId, value: string): string | undefined {
  const f = USER_PIN_FORMATS[id];
  return f.valid(value) ? undefined : `the ${id} PIN must be ${f.format}, ASCII characters only`;
}
