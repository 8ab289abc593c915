/**
 * The rules values on the card follow (pin-rules.md, spec 4.1): the My Number check digit and the
 * PIN formats. No dependencies: the card core checks new PIN values with these.
 */

/** My Number check digit (個人番号 check digit, 総務省令 第5条). */
export function myNumberCheckDigit(first11: string): number {
  let sum = 0;
  for (let n = 1; n <= 11; n++) {
    const p = Number(first11[11 - n]);
    const q = n <= 6 ? n + 1 : n - 5;
    sum += p * q;
  }
  const r = sum % 11;
  return r <= 1 ? 0 : 11 - r;
}

export function isValidMyNumber(s: string): boolean {
  return /^\d{12}$/.test(s) && myNumberCheckDigit(s.slice(0, 11)) === Number(s[11]);
}

export const SIGN_PIN_RE = /^[A-Z0-9]{6,16}$/;
export const FOUR_DIGIT_RE = /^\d{4}$/;

/** The sign password when *set*: 6-16 of A-Z0-9 with at least one letter and one digit. */
export function isValidSignPassword(v: string): boolean {
  return SIGN_PIN_RE.test(v) && /[A-Z]/.test(v) && /\d/.test(v);
}
