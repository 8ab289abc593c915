/**
 * The helpers the card-file modules of simulator/profile/files/ share: hashing, filler, hex, the
 * card's date form, the offset-table object of the 券面 APs (docs/card.md §3.2.1, §3.3), opaque bytes,
 * and RSA public keys as the card stores them (`90`/`91` objects, docs/card.md §3.2, §3.3).
 * Each helper lives here once; the application modules import it rather than keeping a copy.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import type { Profile } from '../schema.ts';
import { InputError } from '../../errors.ts';
import { ascii, concat, headerLength, readAll, tlv } from '../tlv.ts';

export const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

export const fill = (n: number, byte: number): Uint8Array => new Uint8Array(n).fill(byte);

export const hexBytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));

/** ISO date YYYY-MM-DD → 8 ASCII digits YYYYMMDD, as the card stores dates. */
export const yyyymmdd = (isoDate: string): string => isoDate.replaceAll('-', '');

/** An object `outerTag` whose first member is an offset table `tableTag` (2-byte absolute offsets). */
export function withOffsetTable(outerTag: number, tableTag: number, objects: Uint8Array[]): Uint8Array {
  const tableLength = headerLength(tableTag, objects.length * 2) + objects.length * 2;
  const bodyLength = tableLength + objects.reduce((n, o) => n + o.length, 0);
  let pos = headerLength(outerTag, bodyLength) + tableLength;
  const offsets = new Uint8Array(objects.length * 2);
  objects.forEach((o, i) => {
    offsets[2 * i] = pos >>> 8;
    offsets[2 * i + 1] = pos & 0xff;
    pos += o.length;
  });
  return tlv(outerTag, tlv(tableTag, offsets), ...objects);
}

/**
 * Deterministic opaque bytes for fields whose meaning is unknown [I] (text 0005 DF43, face 0003
 * DF35): SHA-256 expansions of the card serial, so a card's bytes stay the same across builds.
 */
export function opaque(label: string, p: Profile, n: number): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (let i = 0; blocks.length * 32 < n; i++) blocks.push(sha256(ascii(`myna-hil ${label} ${p.card.serial} ${i}`)));
  return concat(...blocks).subarray(0, n);
}

/** A profile key PEM as a public key; anything but RSA-2048 is an input error naming `field`. */
export function readPublicKey(pem: string, field: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    throw new InputError(`field ${field}: not a readable key (${(e as Error).message}) (fix: regenerate the card with \`myna-hil card new\`)`);
  }
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType !== 'rsa' || d?.modulusLength !== 2048) {
    throw new InputError(`field ${field}: must be an RSA-2048 key, the card holds nothing else (fix: regenerate the card with \`myna-hil card new\`)`);
  }
  return key;
}

/** An RSA public key as the card stores it (docs/card.md §3.2, §3.3): `90 <e>` `91 82 01 00 <256-byte modulus>`. */
export function cardPublicKey(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  const n = new Uint8Array(Buffer.from(jwk.n!, 'base64url'));
  const e = new Uint8Array(Buffer.from(jwk.e!, 'base64url'));
  return concat(tlv(0x90, e), tlv(0x91, n));
}

/** The inverse of cardPublicKey: `90 <e> 91 <n>` objects → RSA public key (what a client does). */
export function publicKeyFromCard(objects: Uint8Array): KeyObject {
  const parts = new Map(readAll(objects).map((t) => [t.tag, t.value]));
  const e = parts.get(0x90);
  const n = parts.get(0x91);
  if (!e || !n) throw new RangeError('no 90/91 public key objects');
  return createPublicKey({ key: { kty: 'RSA', n: Buffer.from(n).toString('base64url'), e: Buffer.from(e).toString('base64url') }, format: 'jwk' });
}
