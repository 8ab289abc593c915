/**
 * The My Number (個人番号) rule a profile's holder data follows: 12 digits whose last is the check
 * digit of the first 11 (docs/card.md §12.13 on what the check digit does not catch). The PIN rules
 * are the PIN module's own (simulator/pin/rules.ts). No dependencies.
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
