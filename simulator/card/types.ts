/**
 * The card as one small interface, in the manner of vsmartcard's SmartcardOS: a transport (in-process,
 * vpcd) adapts any object of this shape and holds no card logic.
 */
export interface SmartCard {
  /** The ATR presented on power-up (never empty). */
  atr(): Uint8Array;
  /** Cold reset: volatile state (selected DF/EF, verified flags) cleared. */
  powerUp(): void;
  /** Power removed: volatile state cleared. */
  powerDown(): void;
  /** Warm reset: volatile state cleared. */
  reset(): void;
  /**
   * Executes one command APDU and returns the full response APDU (data + SW1 SW2, at least 2 bytes).
   * Never throws for malformed input: every malformation is answered with a status word.
   */
  transmit(command: Uint8Array): Uint8Array;
}
