/**
 * 券面事項確認AP (card-face confirmation AP): EFs 0001..0006 (docs/card.md §3.3), and the byte
 * strings the issuer signs in it (0001 DF13, 0002 DF28, 0005 DF43; see issuer-signatures.ts).
 *
 * DF28 does not sign one hash: its DigestInfo holds SHA-256 of three segments, DF22‖DF23‖DF24,
 * DF25‖DF26 and DF27 (TLVs), 96 bytes in all; DF29 (expiry) and DF2A (security-code image) come after
 * DF28 and are not signed [T] (docs/card.md §3.3; soltia48/myna-card src/ap/surface.rs).
 *
 * Choices [I]: every object is sized exactly to the object (no filler); EF 0003 DF35 is opaque bytes
 * (shared.ts `opaque`) after the key ID.
 */
import type { Profile } from '../schema.ts';
import { InputError } from '../../errors.ts';
import { ascii, concat, tlv } from '../tlv.ts';
import { renderPng } from '../render.ts';
import { cvcFile, KEY_IDS, sha256DigestInfo } from './issuer.ts';
import { cardPublicKey, fill, hexBytes, opaque, readPublicKey, sha256, withOffsetTable, yyyymmdd } from './shared.ts';

/** The face AP's public key as the card stores it (DF12, DF24, DF42: one key, read once per build). */
export function faceKey(p: Profile): Uint8Array {
  return cardPublicKey(readPublicKey(p.keys.faceAp, 'keys.faceAp'));
}

/** TBS of 0001 DF13: DF11 birth YYYYMMDD ‖ DF12 face-AP public key. */
export function faceAgeTbs(p: Profile, key = faceKey(p)): Uint8Array {
  return concat(tlv(0xdf11, ascii(yyyymmdd(p.holder.birthDate))), tlv(0xdf12, key));
}

/** TBS of 0005 DF43: DF41 My Number PNG (72×12) ‖ DF42 face-AP public key. */
export function myNumberImageTbs(p: Profile, key = faceKey(p)): Uint8Array {
  return concat(tlv(0xdf41, renderPng(p.holder.myNumber)), tlv(0xdf42, key));
}

function photo(p: Profile): Uint8Array {
  return new Uint8Array(Buffer.from(p.photoJp2, 'base64'));
}

/** The objects under DF28's signature, by segment: [DF22, DF23, DF24], [DF25, DF26], [DF27]. */
function faceSignedObjects(p: Profile, key: Uint8Array): Uint8Array[][] {
  const h = p.holder;
  return [
    [tlv(0xdf22, ascii(yyyymmdd(h.birthDate))), tlv(0xdf23, ascii(h.sex)), tlv(0xdf24, key)],
    [tlv(0xdf25, renderPng(h.name)), tlv(0xdf26, renderPng(h.address))],
    [tlv(0xdf27, photo(p))],
  ];
}

/** The three separately hashed segments under DF28: DF22‖DF23‖DF24, DF25‖DF26, DF27 (TLVs). */
export function faceSegments(p: Profile, key = faceKey(p)): Uint8Array[] {
  return faceSignedObjects(p, key).map((objects) => concat(...objects));
}

/** The DigestInfo signed in DF28: SHA-256 OID with a 96-byte OCTET STRING of the three digests. */
export function faceDigestInfo(p: Profile, key = faceKey(p)): Uint8Array {
  return sha256DigestInfo(concat(...faceSegments(p, key).map((s) => sha256(s))));
}

/** Largest card-face object: READ BINARY offsets are 15 bits (docs/card.md §8). */
const MAX_FACE_FILE = 0x8000;

/** EFs 0001..0006 by FID. */
export function faceFiles(p: Profile): Map<number, Uint8Array> {
  const sig = p.issuer.signatures;
  const key = faceKey(p);
  const objects = faceSignedObjects(p, key).flat();
  objects.push(tlv(0xdf28, hexBytes(sig.face)), tlv(0xdf29, ascii(yyyymmdd(p.card.expiry))), tlv(0xdf2a, renderPng(p.card.securityCode)));
  const face = withOffsetTable(0xff20, 0xdf21, objects);
  if (face.length > MAX_FACE_FILE) {
    throw new InputError(
      `field photoJp2: the card face file would be ${face.length} bytes, over the ${MAX_FACE_FILE} a 15-bit READ BINARY offset reaches (fix: use a smaller JPEG 2000 photo, a few KB)`,
    );
  }
  const apBasic = tlv(
    0xff30,
    tlv(0xdf31, Uint8Array.of(0x06, 0x03, 0x0e, 0x01)),
    tlv(0xdf32, KEY_IDS.faceApBasic),
    tlv(0xdf33, Uint8Array.of(0x00)),
    tlv(0xdf34, ascii(p.card.municipalityCode)),
    tlv(0xdf35, KEY_IDS.faceDf35, opaque('face DF35', p, 256)),
  );
  return new Map([
    [0x0001, tlv(0xff10, faceAgeTbs(p, key), tlv(0xdf13, hexBytes(sig.age)))],
    [0x0002, face],
    [0x0003, apBasic],
    [0x0004, cvcFile(p)],
    [0x0005, tlv(0xff40, myNumberImageTbs(p, key), tlv(0xdf43, hexBytes(sig.myNumberImage)))],
    [0x0006, fill(16, 0xff)],
  ]);
}
