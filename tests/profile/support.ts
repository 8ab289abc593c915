/**
 * Shared by the profile tests: generated profiles cached per variant and worker, a copy helper, and
 * the 90/91 public key a card file carries turned back into a KeyObject (what a client does).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { generateProfile } from '../../simulator/profile/generate.ts';
import type { Profile, Variant } from '../../simulator/profile/schema.ts';
import { readAll } from '../../simulator/profile/tlv.ts';

const cache = new Map<Variant, Promise<Profile>>();

export function profileOf(variant: Variant = 'adult'): Promise<Profile> {
  let p = cache.get(variant);
  if (!p) {
    p = generateProfile({ variant });
    cache.set(variant, p);
  }
  return p;
}

export const clone = (p: Profile): Profile => structuredClone(p);

/** `90 <e> 91 <n>` → RSA public KeyObject. */
export function keyFromCard(objects: Uint8Array): KeyObject {
  const parts = new Map(readAll(objects).map((t) => [t.tag, t.value]));
  const e = parts.get(0x90), n = parts.get(0x91);
  if (!e || !n) throw new Error('no 90/91 key objects');
  return createPublicKey({ key: { kty: 'RSA', n: Buffer.from(n).toString('base64url'), e: Buffer.from(e).toString('base64url') }, format: 'jwk' });
}

export const hex = (u: Uint8Array): string => Buffer.from(u).toString('hex').toUpperCase();
export const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
