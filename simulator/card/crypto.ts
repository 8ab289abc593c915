/**
 * The signature schemes of COMPUTE DIGITAL SIGNATURE `80 2A` (docs/card.md §6, P1 matrix [T] from
 * soltia48/myna-card) on top of node:crypto.
 */
import { constants, createHash, type KeyObject, privateEncrypt, randomBytes, sign } from 'node:crypto';
import { SW, CardError } from '../apdu/sw.ts';

export const SHA256_DIGESTINFO_PREFIX = Uint8Array.from([
  0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
]);

const sha256 = (d: Uint8Array): Buffer => createHash('sha256').update(d).digest();

function modulusBytes(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (!bits) throw new Error('not an RSA key');
  return Math.ceil(bits / 8);
}

/** RSASSA-PKCS1-v1_5 block type 1 over `data` exactly as given (no hashing, no DigestInfo). */
export function pkcs1Type1(key: KeyObject, data: Uint8Array): Uint8Array {
  return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, data);
}

function mgf1(seed: Uint8Array, length: number): Buffer {
  const out = Buffer.alloc(length);
  const c = Buffer.alloc(4);
  for (let counter = 0, off = 0; off < length; counter++) {
    c.writeUInt32BE(counter, 0);
    const h = createHash('sha256').update(seed).update(c).digest();
    off += h.copy(out, off);
  }
  return out;
}

/** RSASSA-PSS (RFC 8017 8.1.1, EMSA-PSS with SHA-256 and MGF1-SHA-256) over a given SHA-256 hash. */
export function pssSignHash(key: KeyObject, mHash: Uint8Array, saltLength: number): Uint8Array {
  const k = modulusBytes(key);
  const emBits = key.asymmetricKeyDetails!.modulusLength! - 1;
  const emLen = Math.ceil(emBits / 8);
  const hLen = 32;
  if (emLen < hLen + saltLength + 2) throw new CardError(SW.CONDITIONS_NOT_SATISFIED, 'salt too long for the key');
  const salt = randomBytes(saltLength);
  const h = createHash('sha256').update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  const db = Buffer.alloc(emLen - hLen - 1);
  db[emLen - saltLength - hLen - 2] = 0x01;
  salt.copy(db, db.length - saltLength);
  const mask = mgf1(h, db.length);
  for (let i = 0; i < db.length; i++) db[i] ^= mask[i];
  db[0] &= 0xff >> (8 * emLen - emBits);
  const em = Buffer.concat([Buffer.alloc(k - emLen), db, h, Buffer.from([0xbc])]);
  return privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, em);
}

/** Applies 80 2A scheme P1 (00..05) to `data`. Throws CardError with the card's SW on bad input. */
export function computeSignature(key: KeyObject, p1: number, data: Uint8Array, pssSaltLength: number): Uint8Array {
  const maxRaw = modulusBytes(key) - 11;
  const need = (ok: boolean) => {
    if (!ok) throw new CardError(SW.WRONG_LENGTH, `input length ${data.length} invalid for 80 2A P1=${p1}`);
  };
  switch (p1) {
    case 0x00: // PKCS#1 v1.5 over the input as given (a DigestInfo)
      need(data.length >= 1 && data.length <= maxRaw);
      return pkcs1Type1(key, data);
    case 0x01: // SHA-256 of the message, PKCS#1 v1.5 over the bare hash
      need(data.length >= 1 && data.length <= 255);
      return pkcs1Type1(key, sha256(data));
    case 0x02: // a SHA-256 hash wrapped in a DigestInfo
      need(data.length === 32);
      return pkcs1Type1(key, Buffer.concat([SHA256_DIGESTINFO_PREFIX, data]));
    case 0x03: // sha256WithRSAEncryption over the message
      need(data.length >= 1 && data.length <= 255);
      return sign('sha256', data, key);
    case 0x04: // PSS over the given hash
      need(data.length === 32);
      return pssSignHash(key, data, pssSaltLength);
    case 0x05: // SHA-256 then PSS
      need(data.length >= 1 && data.length <= 255);
      return pssSignHash(key, sha256(data), pssSaltLength);
    default:
      throw new CardError(SW.INCORRECT_P1P2, `80 2A P1=${p1} is not a signature scheme`);
  }
}
