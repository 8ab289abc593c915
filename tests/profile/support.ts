/**
 * Shared by the profile tests: generated profiles cached per variant and worker, a copy helper, and
 * the 90/91 public key a card file carries turned back into a KeyObject (what a client does).
 */
import { publicKeyFromCard } from '../../simulator/profile/files.ts';
import type { Profile } from '../../simulator/profile/schema.ts';
import { testProfile } from '../support/card.ts';

/** Generated profiles, cached per variant and worker (shared with the card tests). */
export const profileOf = testProfile;

export const clone = (p: Profile): Profile => structuredClone(p);

/** `90 <e> 91 <n>` → RSA public KeyObject. */
export const keyFromCard = publicKeyFromCard;

export const hex = (u: Uint8Array): string => Buffer.from(u).toString('hex').toUpperCase();
export const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
