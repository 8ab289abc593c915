/**
 * One PIN (or other verification key reference) of the card, parameterised by its rule.
 *
 * The retry counter is decremented and *persisted before* the comparison (as jCardSim's OwnerPIN
 * and real cards do), so pulling power mid-VERIFY still spends the try; it is reset to the maximum
 * on success. The verified flag is transient and lives in the card's security state, not here.
 *
 * Memory follows the state file, never leads it: every change is computed, saved, and applied in
 * memory only once the save succeeded. A failed save throws StorageFailure and leaves the PIN as
 * the file has it (a real card whose EEPROM write fails answers 65 81 and keeps its old state).
 */
import { timingSafeEqual } from 'node:crypto';
import { USER_PIN_FORMATS } from './rules.ts';

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

/** The value rule of a user PIN (USER_PIN_FORMATS, the one definition) with its retry limit. */
export function userPinRule(id: UserPinId, maxTries: number): PinRule {
  const { valid, format, lengths } = USER_PIN_FORMATS[id];
  // 住基 and 共通 keys are changed with CHANGE KEY (80 32), the others with CHANGE REFERENCE DATA (spec 4.3)
  const change = id === 'juki' || id === 'common' ? 'CHANGE_KEY' : 'CHANGE_REFERENCE_DATA';
  return { maxTries, lengths, validNew: valid, format, change };
}

/** Persisted part of a PIN. */
export interface PinState {
  value: string;
  remaining: number;
}

export type VerifyOutcome = 'ok' | 'wrong' | 'blocked';

/**
 * The card's state could not be saved, so the change was not made (memory still equals the file).
 * The card answers 65 81 (memory failure); issuer operations throw it. The message never holds a PIN value.
 */
export class StorageFailure extends Error {
  constructor(cause: unknown) {
    super(`the card state could not be saved, nothing was changed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'StorageFailure';
  }
}

/**
 * The card lost power mid-command, right after a save reached the store (thrown by a state store; in
 * tests, the power is pulled once the write landed). The saved state is the truth, so memory takes it
 * too; then it passes through the storage wrapper (Pin.commit) untouched and is the only exception that
 * escapes the card's transmit(), because a card without power answers nothing.
 */
export class PowerLoss extends Error {
  constructor() {
    super('power lost mid-command (fault injection)');
    this.name = 'PowerLoss';
  }
}

export class Pin {
  constructor(
    readonly id: PinId,
    readonly rule: PinRule,
    private readonly st: PinState,
    /** Saves the card's state with this PIN's state replaced by `next`; throws when it cannot. */
    private readonly persist: (next: PinState) => void,
  ) {}

  get remaining(): number {
    return this.st.remaining;
  }

  get blocked(): boolean {
    return this.st.remaining === 0;
  }

  /**
   * Compares a candidate (ASCII bytes, exactly as sent). Spends a try first (saved before the
   * comparison); resets on success. Throws StorageFailure when a save fails: before the comparison
   * nothing was spent or compared; after it, the spent try stands (as on disk) and nothing is verified.
   */
  verify(candidate: Uint8Array): VerifyOutcome {
    if (this.st.remaining === 0) return 'blocked';
    this.commit({ ...this.st, remaining: this.st.remaining - 1 });
    const expected = Buffer.from(this.st.value, 'latin1');
    const ok = candidate.length === expected.length && timingSafeEqual(candidate, expected);
    if (!ok) return 'wrong';
    this.commit({ ...this.st, remaining: this.rule.maxTries });
    return 'ok';
  }

  /** Sets a new value (after the caller checked authorisation and format); counter back to the maximum. */
  setValue(value: string): void {
    this.commit({ value, remaining: this.rule.maxTries });
  }

  /** Issuer: counter back to the maximum without changing the value. */
  resetCounter(): void {
    this.commit({ ...this.st, remaining: this.rule.maxTries });
  }

  /** Saves `next`, then (only then) makes it the state in memory. */
  private commit(next: PinState): void {
    try {
      this.persist(next);
    } catch (err) {
      // Not a failed write: the write landed and then the power went. Memory follows the store, and
      // the card has no power left to answer with, not even 65 81.
      if (err instanceof PowerLoss) {
        this.apply(next);
        throw err;
      }
      throw new StorageFailure(err);
    }
    this.apply(next);
  }

  private apply(next: PinState): void {
    this.st.value = next.value;
    this.st.remaining = next.remaining;
  }
}
