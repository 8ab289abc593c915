/**
 * Issuer operations: what only the municipality can do, out of band (never as an APDU), and the one
 * user-side flow the rules allow (docs/pin-rules.md §3).
 */
import { InputError } from '../errors.ts';
import type { VirtualCard } from '../card/card.ts';
import { USER_PINS, type UserPinId } from '../pin/pin.ts';
import { userPinValueProblem } from '../pin/rules.ts';

export class IssuerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IssuerError';
  }
}

function userPin(card: VirtualCard, id: string) {
  if (!(USER_PINS as readonly string[]).includes(id)) {
    throw new InputError(`unknown PIN "${id}": choose one of ${USER_PINS.join(', ')}`);
  }
  return card.pin(id as UserPinId);
}

/** Retry counters of the user PINs, by PIN (never their values): what the municipal terminal shows. */
export type PinCounters = Record<UserPinId, { remaining: number; max: number }>;

export function pinCounters(card: VirtualCard): PinCounters {
  return Object.fromEntries(USER_PINS.map((id) => [id, { remaining: card.pin(id).remaining, max: card.pin(id).rule.maxTries }])) as PinCounters;
}

/**
 * Municipal counter: the retry counter back to its maximum, the value unchanged (unlocks a locked PIN).
 * Throws StorageFailure, the card unchanged, when the state cannot be saved.
 */
export function resetCounter(card: VirtualCard, id: UserPinId): void {
  userPin(card, id).resetCounter();
}

/**
 * Municipal counter: a new PIN value (checked against the PIN's rule, USER_PIN_FORMATS), counter at
 * its maximum. Throws StorageFailure, the card unchanged, when the state cannot be saved.
 */
export function setPin(card: VirtualCard, id: UserPinId, value: string): void {
  const pin = userPin(card, id);
  if (userPinValueProblem(id, value)) throw new InputError(`new ${id} PIN does not match its format (${pin.rule.format})`);
  pin.setValue(value);
  card.clearVerified(id); // a session verified with the old value is not verified with the new one
}

/**
 * The kiosk / smartphone flow: re-initialise the sign password, allowed only after the auth PIN was
 * verified in the same card session (since the last power-up or reset) and while it is not locked.
 */
export function reinitSignPassword(card: VirtualCard, value: string): void {
  if (!card.authPinVerifiedThisSession || card.pin('auth').blocked) {
    throw new IssuerError('the sign password can be re-initialised only after the auth PIN was verified in this card session');
  }
  setPin(card, 'sign', value);
}
