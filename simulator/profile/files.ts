/**
 * deriveFiles(profile): every EF of the card, byte-exact to docs/card.md, built
 * from the profile each time a card is built (no global cache; a few milliseconds).
 *
 * ## What the issuer signs
 *
 * All issuer signatures are RSA-2048 RSASSA-PKCS1-v1_5 by the issuer key (profile.issuer.key, the
 * key certified by the CVC in EF 0004 of both 券面 APs), i.e. a PKCS#1 type-1 block around a
 * DigestInfo. "TLV" below means the object exactly as stored, header included. Source for all of
 * them: soltia48/myna-card, which checks each against files read from a JPKI test card
 * (tests/signatures.rs; src/ap/text.rs, src/ap/surface.rs, src/data.rs `TlvFields::bytes_before`,
 * `bytes_of`, `sha256_digest_info`, `CardVerifiableCertificate::verify_with`) [1]:
 *
 * | Signature (profile.issuer…)  | Where                    | DigestInfo = SHA-256 DigestInfo of …                     |
 * |------------------------------|--------------------------|----------------------------------------------------------|
 * | signatures.textIntegrity     | 券面入力補助AP 0003 DF33  | SHA-256(DF31 TLV ‖ DF32 TLV)          → textIntegrityTbs   |
 * | signatures.textApKey         | 券面入力補助AP 0007 DF52  | SHA-256(DF51 TLV)                     → textApKeyTbs       |
 * | signatures.age               | 券面事項確認AP 0001 DF13  | SHA-256(DF11 TLV ‖ DF12 TLV)          → faceAgeTbs         |
 * | signatures.myNumberImage     | 券面事項確認AP 0005 DF43  | SHA-256(DF41 TLV ‖ DF42 TLV)          → myNumberImageTbs   |
 * | signatures.face              | 券面事項確認AP 0002 DF28  | *not* one hash: the OCTET STRING of the DigestInfo holds |
 * |                              |                          | 96 bytes, SHA-256(DF22‖DF23‖DF24 TLVs) ‖ SHA-256(DF25‖DF26 |
 * |                              |                          | TLVs) ‖ SHA-256(DF27 TLV); the DigestInfo is then        |
 * |                              |                          | `30 71 30 0D <sha256 OID> 05 00 04 60 <96 bytes>`        |
 * |                              |                          | → faceSegments / faceDigestInfo                          |
 * | cvcSignature (by the root)   | both 券面 APs 0004 5F37   | SHA-256(5F4E *value*, 297 bytes: root key ID ‖ issuer    |
 * |                              |                          | key ID ‖ 90/91 issuer public key) → cvcTbs               |
 *
 * DF29 (expiry) and DF2A (security-code image) of the card face come after DF28 and are not signed [T]
 * (spec 3.3). The outer headers (FF10…, FF20…) and the DF21 offset table are never covered.
 * issuerDigestInfos() returns the five DigestInfos at once, signDigestInfo()/verifyDigestInfo() are
 * the one signing primitive, so the generator signs exactly what the card serves.
 *
 * ## Choices this simulator makes [I] (real values unknown or card-specific)
 * - One issuer key and one CVC (root → issuer) serve both 券面 APs; real cards have one per AP
 *   (root key IDs "…0033" text, "…0023" face). Key IDs of the simulator hierarchy start with `9`, to
 *   collide with neither production (`5…`) nor JPKI test (`6…`) IDs in client CA tables.
 * - 券面入力補助AP EF 0006 (session-key delivery key) holds the public half of the AP's own key 0013
 *   (profile.keys.textAp); on a real card it is a separate key (myna-card src/ap/text.rs).
 * - Opaque fields (text 0005 DF43, face 0003 DF35) are SHA-256 expansions of the card serial.
 * - EF 0002 of 券面入力補助AP and the 券面事項確認AP objects are sized exactly to the object (no filler);
 *   only text 0001 (17 B with `FF FF`, spec 3.2 [T]) and text 0005 (behaviour.textApBasicInfoSize with
 *   behaviour.filler, spec 8) carry filler.
 * - Token info utcTime is 16 spaces: the flags do not set CKF_CLOCK_ON_TOKEN, so PKCS#11 gives
 *   utcTime no meaning.
 */
import type { Profile } from './schema.ts';
import type { DerivedFiles } from './derived.ts';
import { InputError } from '../errors.ts';
import { ascii, concat, tlv, utf8 } from './tlv.ts';
import { renderPng } from './render.ts';
import { cardPublicKey, fill, hexBytes, opaque, readPublicKey, sha256, withOffsetTable, yyyymmdd } from './files/shared.ts';
import { cvcFile, KEY_IDS, sha256DigestInfo } from './files/issuer.ts';
import { jpkiFiles } from './files/jpki-ap.ts';
import { jukiRecords } from './files/juki-ap.ts';
import { commonRecords } from './files/common-ap.ts';
import { getData } from './files/mf.ts';
import { verificationKeys } from './files/verification.ts';

export { cardPublicKey, publicKeyFromCard } from './files/shared.ts';
export { cvcDigestInfo, cvcTbs, keyId, KEY_IDS, sha256DigestInfo, signDigestInfo, verifyDigestInfo } from './files/issuer.ts';
export { tokenInfo } from './files/jpki-ap.ts';

// ---------------------------------------------------------------------------------------------
// 券面事項入力補助AP (spec 3.2)

/** EF 0001: `FF 10 0C` + 12 digits + `FF FF` to 17 bytes [T] (a fact, so not behaviour.filler). */
export function textMyNumberFile(p: Profile): Uint8Array {
  const obj = tlv(0xff10, ascii(p.holder.myNumber));
  return concat(obj, fill(17 - obj.length, 0xff));
}

/** The four objects DF22..DF25 of EF 0002 (spec 3.2.1). */
function basic4Objects(p: Profile): Uint8Array[] {
  const h = p.holder;
  return [
    tlv(0xdf22, utf8(h.name)),
    tlv(0xdf23, utf8(h.address)),
    tlv(0xdf24, ascii(yyyymmdd(h.birthDate))),
    tlv(0xdf25, ascii(h.sex)),
  ];
}

/** EF 0002: basic 4 attributes, `FF 20` with the DF21 offset table first (spec 3.2.1) [T]. */
export function textBasic4(p: Profile): Uint8Array {
  return withOffsetTable(0xff20, 0xdf21, basic4Objects(p));
}

/**
 * TBS of 0003 DF33: DF31 = SHA-256 of EF 0001 as stored (17 bytes, filler included) ‖ DF32 = SHA-256 of
 * EF 0002's outer value with the DF21 object removed, i.e. of the DF22..DF25 objects [T].
 */
export function textIntegrityTbs(p: Profile): Uint8Array {
  return concat(tlv(0xdf31, sha256(textMyNumberFile(p))), tlv(0xdf32, sha256(...basic4Objects(p))));
}

/** TBS of 0007 DF52: DF51 = public half of the AP's own key 0013. */
export function textApKeyTbs(p: Profile): Uint8Array {
  return tlv(0xdf51, cardPublicKey(readPublicKey(p.keys.textAp, 'keys.textAp')));
}

function textFiles(p: Profile): Map<number, Uint8Array> {
  const sig = p.issuer.signatures;
  const textKey = cardPublicKey(readPublicKey(p.keys.textAp, 'keys.textAp'));
  const basicInfo = tlv(
    0xff40,
    tlv(0xdf41, Uint8Array.of(0x01, 0x03, 0x0e, 0x01)),
    tlv(0xdf42, KEY_IDS.textApBasic),
    tlv(0xdf43, opaque('text DF43', p, 32), fill(96, 0xff)),
  );
  const size = Math.max(p.behaviour.textApBasicInfoSize, basicInfo.length);
  return new Map([
    [0x0001, textMyNumberFile(p)],
    [0x0002, textBasic4(p)],
    [0x0003, tlv(0xff30, textIntegrityTbs(p), tlv(0xdf33, hexBytes(sig.textIntegrity)))],
    [0x0004, cvcFile(p)],
    [0x0005, concat(basicInfo, fill(size - basicInfo.length, p.behaviour.filler))],
    [0x0006, tlv(0xa1, textKey)],
    [0x0007, tlv(0xff50, textApKeyTbs(p), tlv(0xdf52, hexBytes(sig.textApKey)))],
    [0x0008, fill(16, 0xff)],
  ]);
}

// ---------------------------------------------------------------------------------------------
// 券面事項確認AP (spec 3.3)

function faceKey(p: Profile): Uint8Array {
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

/** Largest card-face object: READ BINARY offsets are 15 bits (spec 8). */
const MAX_FACE_FILE = 0x8000;

function faceFiles(p: Profile): Map<number, Uint8Array> {
  const sig = p.issuer.signatures;
  const key = faceKey(p);
  const objects = faceSignedObjects(p, key).flat();
  objects.push(
    tlv(0xdf28, hexBytes(sig.face)),
    tlv(0xdf29, ascii(yyyymmdd(p.card.expiry))),
    tlv(0xdf2a, renderPng(p.card.securityCode)),
  );
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

// ---------------------------------------------------------------------------------------------
// The issuer's signatures, all at once (generator and verifiers)

export type IssuerSignatureName = keyof Profile['issuer']['signatures'];

/** The DigestInfo each issuer signature in profile.issuer.signatures signs. */
export function issuerDigestInfos(p: Profile): Record<IssuerSignatureName, Uint8Array> {
  const key = faceKey(p);
  const d = (tbs: Uint8Array) => sha256DigestInfo(sha256(tbs));
  return {
    textIntegrity: d(textIntegrityTbs(p)),
    textApKey: d(textApKeyTbs(p)),
    face: faceDigestInfo(p, key),
    age: d(faceAgeTbs(p, key)),
    myNumberImage: d(myNumberImageTbs(p, key)),
  };
}

// ---------------------------------------------------------------------------------------------

export function deriveFiles(p: Profile): DerivedFiles {
  // First, as before the split: a bad birth date is the error reported even when other fields are bad too.
  const verification = verificationKeys(p);
  return {
    jpki: jpkiFiles(p),
    text: textFiles(p),
    face: faceFiles(p),
    jukiRecords: jukiRecords(),
    commonRecords: commonRecords(p),
    verification,
    getData: getData(p),
  };
}
