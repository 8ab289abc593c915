/**
 * Status words used by the virtual My Number Card, with names.
 * Values and meanings follow docs/card.md §7.
 */
export const SW = {
  OK: 0x9000,
  /** 63 Cx: wrong PIN / query answer; add the tries left (0..15). */
  COUNTER: 0x63c0,
  WRONG_LENGTH: 0x6700,
  LOGICAL_CHANNEL_NOT_SUPPORTED: 0x6881,
  SECURE_MESSAGING_NOT_SUPPORTED: 0x6882,
  COMMAND_CHAINING_NOT_SUPPORTED: 0x6884,
  COMMAND_INCOMPATIBLE_WITH_FILE: 0x6981,
  SECURITY_STATUS_NOT_SATISFIED: 0x6982,
  REFERENCE_DATA_BLOCKED: 0x6984,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  NO_CURRENT_EF: 0x6986,
  SM_REFUSED: 0x69fc,
  WRONG_DATA: 0x6a80,
  FUNCTION_NOT_SUPPORTED: 0x6a81,
  FILE_NOT_FOUND: 0x6a82,
  RECORD_NOT_FOUND: 0x6a83,
  INCORRECT_P1P2: 0x6a86,
  REFERENCED_DATA_NOT_FOUND: 0x6a88,
  WRONG_OFFSET: 0x6b00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  NO_PRECISE_DIAGNOSIS: 0x6f00,
  SECURITY_ENVIRONMENT_FAULTY: 0x66f1,
  /** 65 81: non-volatile memory could not be written (the state file); nothing was changed. */
  MEMORY_FAILURE: 0x6581,
} as const;

export type SwName = keyof typeof SW;

const NAMES = new Map<number, string>(Object.entries(SW).map(([k, v]) => [v, k] as [number, string]));

/** Human-readable name of a status word, e.g. `SECURITY_STATUS_NOT_SATISFIED` or `COUNTER(2)`. */
export function swName(sw: number): string {
  if ((sw & 0xfff0) === 0x63c0) return `COUNTER(${sw & 0x0f})`;
  return NAMES.get(sw) ?? 'UNKNOWN';
}

/** Formats a status word as four upper-case hex digits. */
export function swHex(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, '0');
}

/**
 * An error carrying the status word the card answers. Handlers throw it; exactly one place
 * (the card's transmit) turns it into a response.
 */
export class CardError extends Error {
  constructor(
    public readonly sw: number,
    message?: string,
  ) {
    super(message ?? `card error ${swHex(sw)} (${swName(sw)})`);
    this.name = 'CardError';
  }
}
