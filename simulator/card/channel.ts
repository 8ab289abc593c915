/**
 * The one seam between a client conversation with the card (harness/flows) and whatever carries it:
 * the in-process card, PC/SC to the simulator behind vpcd, or PC/SC to a physical card. It sits beside
 * {@link SmartCard} so that carriers (harness/pcsc) and clients (harness/flows) both depend on it and
 * not on each other.
 */
import type { SmartCard } from './types.ts';

export interface ApduChannel {
  /** Sends a command APDU, resolves with the full response APDU (data + SW1 SW2). */
  transmit(command: Uint8Array): Promise<Uint8Array>;
}

/** A channel straight into a card object in this process (no transport at all). */
export function inProcessChannel(card: SmartCard): ApduChannel {
  return { transmit: async (command) => card.transmit(command) };
}
