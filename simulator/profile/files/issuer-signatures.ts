/**
 * What the issuer signs over the derived files of the 券面 APs (docs/card.md §3.2, §3.3): the
 * DigestInfo behind each signature in profile.issuer.signatures, all at once, for the generator and
 * for verifiers. The byte strings themselves come from text-ap.ts and face-ap.ts, so the generator
 * signs exactly what the card serves.
 *
 * All issuer signatures are RSA-2048 RSASSA-PKCS1-v1_5 by the issuer key (profile.issuer.key, the
 * key certified by the CVC in EF 0004 of both 券面 APs; issuer.ts). "TLV" below means the object
 * exactly as stored, header included. Source for all of them: soltia48/myna-card, which checks each
 * against files read from a JPKI test card (tests/signatures.rs; src/ap/text.rs, src/ap/surface.rs,
 * src/data.rs `TlvFields::bytes_before`, `bytes_of`, `sha256_digest_info`,
 * `CardVerifiableCertificate::verify_with`) [1]:
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
 * |                              |                          | key ID ‖ 90/91 issuer public key) → cvcTbs (issuer.ts)   |
 *
 * DF29 (expiry) and DF2A (security-code image) of the card face come after DF28 and are not signed [T]
 * (docs/card.md §3.3). The outer headers (FF10…, FF20…) and the DF21 offset table are never covered.
 */
import type { Profile } from '../schema.ts';
import { sha256DigestInfo } from './issuer.ts';
import { faceAgeTbs, faceDigestInfo, faceKey, myNumberImageTbs } from './face-ap.ts';
import { textApKeyTbs, textIntegrityTbs } from './text-ap.ts';
import { sha256 } from './shared.ts';

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
