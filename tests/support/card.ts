/**
 * Test support: one generated profile per variant per test worker (generation costs about a second),
 * fresh cards from it, and an exchange helper.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { cardFromProfile, type CardOptions } from '../../simulator/card/build.ts';
import type { VirtualCard } from '../../simulator/card/card.ts';
import { fromHex, parseResponse, toHex } from '../../simulator/apdu/codec.ts';
import { generateProfile } from '../../simulator/profile/generate.ts';
import type { Profile, Variant } from '../../simulator/profile/schema.ts';

const cache = new Map<Variant, Promise<Profile>>();

export function testProfile(variant: Variant = 'adult'): Promise<Profile> {
  let p = cache.get(variant);
  if (!p) {
    p = generateProfile({ variant });
    cache.set(variant, p);
  }
  return p;
}

/**
 * A card for tests: internal faults (bugs in a handler) are rethrown, not answered 6F 00, so that
 * they fail the test. Storage failures are still answered 65 81, as in production.
 */
export function testCard(profile: Profile, options: CardOptions = {}): VirtualCard {
  return cardFromProfile(profile, { faults: 'throw', ...options });
}

export async function newCard(variant: Variant = 'adult', options: CardOptions = {}): Promise<VirtualCard> {
  return testCard(await testProfile(variant), options);
}

export interface Exchange {
  data: Uint8Array;
  sw: number;
  /** SW as 4 hex digits, for readable assertions. */
  swHex: string;
}

/** Sends a command given as hex (spaces allowed) or bytes and splits the response. */
export function tx(card: { transmit(c: Uint8Array): Uint8Array }, cmd: string | Uint8Array): Exchange {
  const raw = card.transmit(typeof cmd === 'string' ? fromHex(cmd) : cmd);
  const r = parseResponse(raw);
  return { data: r.data, sw: r.sw, swHex: r.sw.toString(16).toUpperCase().padStart(4, '0') };
}

export const ascii = (s: string): string => toHex(Buffer.from(s, 'latin1'));

/** `00 20 00 80 Lc <ascii>` as hex. */
export const verifyCmd = (value: string): string => `002000 80 ${value.length.toString(16).padStart(2, '0')} ${ascii(value)}`;

/**
 * The card's identity as the lab's allow-list holds it: SHA-256 (hex, lower case) of the auth
 * certificate's DER, computed here with node:crypto, independently of the harness's own code.
 */
export function authCertHash(profile: Profile): string {
  return createHash('sha256').update(new X509Certificate(profile.certificates.auth).raw).digest('hex');
}

/** The lab's PIN values of a card as the pcsc and relay targets read them: MYNA_HIL_PIN_AUTH, _SIGN, _JUKI, _KENMEN. */
export function labPinEnv(profile: Profile): Record<string, string> {
  return Object.fromEntries((['auth', 'sign', 'juki', 'kenmen'] as const).map((k) => [`MYNA_HIL_PIN_${k.toUpperCase()}`, profile.pins[k].value]));
}
