/**
 * One PIN (or other verification key reference) of the card, parameterised by its rule.
 *
 * The retry counter is decremented and *persisted before* the comparison (as jCardSim's OwnerPIN
 * and real cards do), so pulling power mid-VERIFY still spends the try; it is reset to the maximum
 * on success. The verified flag is transient and lives in the card's security state, not here.
 */
import { timingSafeEqual } from 'node:crypto';
import { FOUR_DIGIT_RE, isValidSignPassword } from '../profile/rules.ts';

export type PinId =
  | 'sign' // JPKI 001B, 署名用電子証明書パスワード
  | 'auth' // JPKI 0018, 利用者証明用電子証明書暗証番号
  | 'juki' // 住基AP 001C, 住民基本台帳用暗証番号
  | 'kenmen' // 券面事項入力補助AP 0011, 券面事項入力補助用暗証番号
  | 'common' // 共通カードAP 001C
  | 'textA' // 券面事項入力補助AP 0014, 照合番号A
  | 'textB' // 券面事項入力補助AP 0015, 照合番号B
  | 'textBlocked' // 券面事項入力補助AP 0012, blocked on every card
  | 'faceBirth' // 券面事項確認AP 0011, 生年月日
  | 'faceB' // 券面事項確認AP 0012, 照合番号B
  | 'faceA'; // 券面事項確認AP 0013, 照合番号A

/** The four user PINs of pin-rules.md plus the common AP's separate key reference. */
export const USER_PINS = ['sign', 'auth', 'juki', 'kenmen', 'common'] as const satisfies readonly PinId[];
export type UserPinId = (typeof USER_PINS)[number];

export interface PinRule {
  /** Retry limit; 0 for a reference that is blocked by design. */
  maxTries: number;
  /** Lengths a value can have, inclusive (for behaviour.verifyWrongLengthSw). */
  lengths: readonly [number, number];
  /** Checks a *new* value (CHANGE, issuer set). Undefined: the value cannot be changed. */
  validNew?: (value: string) => boolean;
  /** Human description of the format, for error messages. */
  format: string;
  /** Which change command the card accepts for it, if any. */
  change?: 'CHANGE_REFERENCE_DATA' | 'CHANGE_KEY';
}

const fourDigits = (v: string) => FOUR_DIGIT_RE.test(v);

export function userPinRule(id: UserPinId, maxTries: number): PinRule {
  switch (id) {
    case 'sign':
      return { maxTries, lengths: [6, 16], validNew: isValidSignPassword, format: '6-16 of A-Z and 0-9 with at least one letter and one digit', change: 'CHANGE_REFERENCE_DATA' };
    case 'auth':
    case 'kenmen':
      return { maxTries, lengths: [4, 4], validNew: fourDigits, format: '4 digits', change: 'CHANGE_REFERENCE_DATA' };
    case 'juki':
    case 'common':
      return { maxTries, lengths: [4, 4], validNew: fourDigits, format: '4 digits', change: 'CHANGE_KEY' };
  }
}

/** Persisted part of a PIN. */
export interface PinState {
  value: string;
  remaining: number;
}

export type VerifyOutcome = 'ok' | 'wrong' | 'blocked';

export class Pin {
  constructor(
    readonly id: PinId,
    readonly rule: PinRule,
    private readonly st: PinState,
    /** Persists the card's state; called after every counter or value change. */
    private readonly persist: () => void,
    /** Test seam: called right after the decremented counter is persisted, before comparing. */
    private readonly afterCounterWrite: () => void = () => {},
  ) {}

  get remaining(): number {
    return this.st.remaining;
  }

  get blocked(): boolean {
    return this.st.remaining === 0;
  }

  /** Compares a candidate (ASCII bytes, exactly as sent). Spends a try first; resets on success. */
  verify(candidate: Uint8Array): VerifyOutcome {
    if (this.st.remaining === 0) return 'blocked';
    this.st.remaining -= 1;
    this.persist();
    this.afterCounterWrite();
    const expected = Buffer.from(this.st.value, 'latin1');
    const ok = candidate.length === expected.length && timingSafeEqual(candidate, expected);
    if (!ok) return 'wrong';
    this.st.remaining = this.rule.maxTries;
    this.persist();
    return 'ok';
  }

  /** Sets a new value (after the caller checked authorisation); counter back to the maximum. */
  setValue(value: string): void {
    this.st.value = value;
    this.st.remaining = this.rule.maxTries;
    this.persist();
  }

  /** Issuer: counter back to the maximum without changing the value. */
  resetCounter(): void {
    this.st.remaining = this.rule.maxTries;
    this.persist();
  }
}
