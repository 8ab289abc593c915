/**
 * The one seam between a flow (a client's conversation with the card) and whatever carries it: the
 * in-process card, PC/SC to the simulator behind vpcd, or PC/SC to a physical card.
 */
import type { SmartCard } from '../../simulator/card/types.ts';

export interface ApduChannel {
  /** Sends a command APDU, resolves with the full response APDU (data + SW1 SW2). */
  transmit(command: Uint8Array): Promise<Uint8Array>;
}

/** A channel straight into a card object in this process (no transport at all). */
export function inProcessChannel(card: SmartCard): ApduChannel {
  return { transmit: async (command) => card.transmit(command) };
}
