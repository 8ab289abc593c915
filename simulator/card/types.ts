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

/** A value now, or later. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * A card whose answers may come later: a card on the far side of something asynchronous (the relay's
 * physical card behind PC/SC, harness/relay). Same contract as {@link SmartCard}; a promise that
 * rejects is what a throw is for the synchronous card (an APDU answered 6F 00; a rejection named
 * `PowerLoss` closes the vpcd connection, simulator/transport/vpcd/messages.ts).
 */
export interface AsyncSmartCard {
  atr(): MaybePromise<Uint8Array>;
  powerUp(): MaybePromise<void>;
  powerDown(): MaybePromise<void>;
  reset(): MaybePromise<void>;
  transmit(command: Uint8Array): MaybePromise<Uint8Array>;
}

/** What the vpcd transport serves: a synchronous card (the simulator) or an asynchronous one (the relay). */
export type CardPort = SmartCard | AsyncSmartCard;
