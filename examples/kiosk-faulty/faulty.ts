/**
 * The faulty twin of the reference kiosk: the same program (examples/kiosk/kiosk.ts) with its fault
 * switches on, so that the two differ in exactly these behaviours. A client-requirements suite must
 * fail it on each: it never queries the tries left and never confirms the last try (CLIENT-010,
 * CLIENT-012), re-sends a refused PIN until the card locks (CLIENT-013, CLIENT-015), sends a
 * lower-case sign password to the card (CLIENT-003), and prints the PIN in a debug line (CLIENT-006).
 */
import type { KioskFaults } from '../kiosk/kiosk.ts';

export const FAULTS: Readonly<Required<KioskFaults>> = {
  noQuery: true,
  retryUntilLocked: true,
  sendLowerCase: true,
  printPin: true,
};
