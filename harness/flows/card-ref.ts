/**
 * What a client knows about the My Number Card, written from the card reference (docs/card.md) and
 * not taken from the simulator: AIDs, file IDs, the SHA-256 DigestInfo, the card's public-key objects
 * and the My Number check digit. The flows run against physical cards with these values, so a wrong
 * value in the simulator shows up as a failed flow instead of cancelling out.
 */
import { constants, createHash, createPublicKey, publicDecrypt, type KeyObject } from 'node:crypto';
import { readAll } from './tlv.ts';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

/** Application AIDs (docs/card.md §1). */
export const AID = {
  jpki: bytes(0xd3, 0x92, 0xf0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01),
  text: bytes(0xd3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08),
  face: bytes(0xd3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02),
  juki: bytes(0xd3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01),
  common: bytes(0xd3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x01, 0x00),
} as const;

/** The file IDs the flows use, per application (docs/card.md §3.1-§3.5). */
export const EF = {
  jpki: { signCert: 0x0001, tokenInfo: 0x0006, authCert: 0x000a, authKey: 0x0017, authPin: 0x0018, signKey: 0x001a, signPin: 0x001b },
  text: { myNumber: 0x0001, basic4: 0x0002, integrity: 0x0003, cvc: 0x0004, pin: 0x0011 },
  face: { cardFace: 0x0002, cvc: 0x0004, verificationA: 0x0013 },
  juki: { pin: 0x001c },
  common: { pin: 0x001c },
} as const;

/** `30 31 30 0D 06 09 <id-sha256> 05 00 04 20` (docs/card.md §6, RFC 8017 9.2 note 1). */
export const SHA256_DIGESTINFO_PREFIX = bytes(0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20);

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/**
 * A SHA-256 DigestInfo around `digest`: 32 bytes normally, 96 for the card-face signature, whose
 * OCTET STRING holds three SHA-256 values (docs/card.md §3.3 DF28). Short DER lengths suffice below 111.
 */
export function sha256DigestInfo(digest: Uint8Array): Uint8Array {
  if (digest.length % 32 !== 0 || digest.length === 0 || digest.length > 96)
    throw new RangeError(`a DigestInfo of ${digest.length} bytes is not one the card uses`);
  const info = new Uint8Array(SHA256_DIGESTINFO_PREFIX.length + digest.length);
  info.set(SHA256_DIGESTINFO_PREFIX);
  info[1] = 0x11 + digest.length; // outer SEQUENCE: algorithm (15) + OCTET STRING header (2) + digest
  info[SHA256_DIGESTINFO_PREFIX.length - 1] = digest.length;
  info.set(digest, SHA256_DIGESTINFO_PREFIX.length);
  return info;
}

/** True when `signature` is PKCS#1 v1.5 (block type 1) over exactly `digestInfo` under `key`. */
export function verifiesDigestInfo(key: KeyObject, digestInfo: Uint8Array, signature: Uint8Array): boolean {
  try {
    return Buffer.compare(publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature), digestInfo) === 0;
  } catch {
    return false;
  }
}

/**
 * An RSA public key as the card stores it (docs/card.md §3.2 EF 0004, §3.3 DF12/DF24/DF42): exactly
 * `90 <public exponent>` then `91 <modulus>`, both unsigned big-endian. Throws naming what is wrong.
 */
export function publicKeyFromCard(objects: Uint8Array): KeyObject {
  const parts = readAll(objects);
  const [e, n] = parts;
  if (parts.length !== 2 || e.tag !== 0x90 || n.tag !== 0x91) {
    throw new RangeError(`card public key: expected 90 <exponent> 91 <modulus>, found tags ${parts.map((p) => p.tag.toString(16).toUpperCase()).join(' ')}`);
  }
  if (n.value.length !== 256) throw new RangeError(`card public key: modulus of ${n.value.length} bytes, the card's keys are RSA-2048 (256 bytes)`);
  const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64url');
  return createPublicKey({ key: { kty: 'RSA', n: b64(n.value), e: b64(e.value) }, format: 'jwk' });
}

/**
 * The My Number check digit (個人番号の検査用数字, 番号法施行規則 (総務省令) 第5条): the first 11 digits
 * weighted 6 5 4 3 2 7 6 5 4 3 2 from the left; remainder r of the sum by 11; digit 0 when r ≤ 1, else 11 − r.
 */
const WEIGHTS = [6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

export function myNumberCheckDigit(first11: string): number {
  if (!/^\d{11}$/.test(first11)) throw new RangeError('the check digit is computed over 11 digits');
  const r = WEIGHTS.reduce((sum, w, i) => sum + w * Number(first11[i]), 0) % 11;
  return r <= 1 ? 0 : 11 - r;
}

export function isValidMyNumber(s: string): boolean {
  return /^\d{12}$/.test(s) && myNumberCheckDigit(s.slice(0, 11)) === Number(s[11]);
}
