/**
 * The issuer's signing: key identifiers, the SHA-256 DigestInfo, the one signing primitive, and the
 * card-verifiable certificate (CVC, root → issuer) that EF 0004 of both 券面 APs holds
 * (docs/card.md §3.2, §3.3) and MF-level GET DATA 00F8 returns (docs/card.md §3.6).
 *
 * All issuer signatures are RSA-2048 RSASSA-PKCS1-v1_5, i.e. a PKCS#1 type-1 block around a
 * DigestInfo; signDigestInfo()/verifyDigestInfo() are that one primitive, so the generator signs
 * exactly what the card serves. What each signature covers: issuer-signatures.ts.
 *
 * CVC (EF 0004) [T]: `7F 21 82 02 33` { `5F 4E 82 01 29` body, `5F 37 82 01 00` root signature }. The
 * root signs SHA-256 of the 297-byte `5F4E` *value*: root key ID ‖ issuer key ID ‖ `90`/`91` issuer
 * public key (soltia48/myna-card `CardVerifiableCertificate::verify_with` [1]).
 *
 * ## Choices this simulator makes [I] (real values unknown or card-specific)
 * - One issuer key and one CVC (root → issuer) serve both 券面 APs; real cards have one per AP
 *   (root key IDs "…0033" text, "…0023" face).
 * - Key IDs of the simulator hierarchy start with `9`, to collide with neither production (`5…`) nor
 *   JPKI test (`6…`) IDs in client CA tables.
 */
import { constants, privateEncrypt, publicDecrypt, type KeyObject } from 'node:crypto';
import type { Profile } from '../schema.ts';
import { ascii, concat, derTlv, tlv } from '../tlv.ts';
import { cardPublicKey, fill, hexBytes, readPublicKey, sha256 } from './shared.ts';

/**
 * A 16-byte key identifier as the card writes one [1] (myna-card src/data.rs `KeyId`):
 * 7 ASCII digits, `08 05`, 3 ASCII digits, 4 bytes `00`.
 */
export function keyId(number7: string, group = '001'): Uint8Array {
  if (!/^\d{7}$/.test(number7) || !/^\d{3}$/.test(group)) throw new RangeError(`bad key id ${number7}/${group}`);
  return concat(ascii(number7), Uint8Array.of(0x08, 0x05), ascii(group), fill(4, 0));
}

/** Key IDs of the simulator's own hierarchy [I] (see the file comment). */
export const KEY_IDS = {
  /** 券面入力補助AP 0005 DF42 (real cards: "x000034"). */
  textApBasic: keyId('9000034'),
  /** 券面事項確認AP 0003 DF32 (real cards: "x000024"). */
  faceApBasic: keyId('9000024'),
  /** 券面事項確認AP 0003 DF35 first 16 bytes (real cards: "5900025/001"). */
  faceDf35: keyId('9900025'),
  /** The 16-byte record of 住基AP 0002 and 共通カードAP 0002 [U]. */
  recordKeyRef: keyId('9000010'),
};

/** DER of a SHA-256 DigestInfo around `digest` (32 bytes normally; 96 for the card face). */
export function sha256DigestInfo(digest: Uint8Array): Uint8Array {
  const algorithm = hexBytes('300d06096086480165030402010500');
  return derTlv(0x30, concat(algorithm, derTlv(0x04, digest)));
}

/** RSASSA-PKCS1-v1_5 signature of a complete DigestInfo (PKCS#1 type-1 padding, private key). */
export function signDigestInfo(privateKeyPem: string | KeyObject, digestInfo: Uint8Array): Uint8Array {
  return new Uint8Array(privateEncrypt({ key: privateKeyPem, padding: constants.RSA_PKCS1_PADDING }, digestInfo));
}

/** True when `signature` is a PKCS#1 v1.5 signature of exactly `digestInfo` under `publicKey`. */
export function verifyDigestInfo(publicKey: string | KeyObject, digestInfo: Uint8Array, signature: Uint8Array): boolean {
  try {
    const recovered = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
    return Buffer.compare(recovered, digestInfo) === 0;
  } catch {
    return false;
  }
}

/** Issuer public key object (90/91) — certified by the CVC. */
function issuerPublicKey(p: Profile): Uint8Array {
  return cardPublicKey(readPublicKey(p.issuer.key, 'issuer.key'));
}

/** TBS of the CVC (EF 0004 of both 券面 APs): the 297-byte `5F4E` value. */
export function cvcTbs(p: Profile): Uint8Array {
  return concat(hexBytes(p.issuer.rootKeyId), hexBytes(p.issuer.keyId), issuerPublicKey(p));
}

/** The CVC template contents `5F4E` ‖ `5F37`, as MF-level GET DATA 00F8 returns them. */
export function cvcContents(p: Profile): Uint8Array {
  return concat(tlv(0x5f4e, cvcTbs(p)), tlv(0x5f37, hexBytes(p.issuer.cvcSignature)));
}

/** EF 0004 of both 券面 APs: `7F 21 82 02 33` { `5F 4E 82 01 29` body, `5F 37 82 01 00` root signature } [T]. */
export function cvcFile(p: Profile): Uint8Array {
  return tlv(0x7f21, cvcContents(p));
}

/** The DigestInfo the CVC root signs (profile.issuer.cvcSignature). */
export function cvcDigestInfo(p: Profile): Uint8Array {
  return sha256DigestInfo(sha256(cvcTbs(p)));
}
