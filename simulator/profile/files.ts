/**
 * deriveFiles(profile): every EF of the card, byte-exact to docs/card.md (§3 file maps), built from
 * the profile each time a card is built (no global cache; a few milliseconds). This module is the
 * public entry: it puts the applications together and re-exports the helpers other code uses. Each
 * part lives in simulator/profile/files/:
 *
 * | Module                          | Builds                                                     | docs/card.md |
 * |---------------------------------|------------------------------------------------------------|--------------|
 * | files/jpki-ap.ts                | JPKI AP: token info, certificate EFs                        | §3.1         |
 * | files/text-ap.ts                | 券面事項入力補助AP EFs 0001..0008                            | §3.2         |
 * | files/face-ap.ts                | 券面事項確認AP EFs 0001..0006                                | §3.3         |
 * | files/juki-ap.ts                | 住基AP record EF 0002                                        | §3.4         |
 * | files/common-ap.ts              | 共通カードAP record EFs 0001, 0002                            | §3.5         |
 * | files/mf.ts                     | MF-level GET DATA objects                                   | §3.6         |
 * | files/verification.ts           | 照合番号A/B and the birth-date key                           | §4.4         |
 * | files/issuer.ts                 | key IDs, DigestInfo, sign/verify, the CVC (EF 0004)         | §3.2, §3.3   |
 * | files/issuer-signatures.ts      | what each issuer signature covers (the DigestInfos)         | §3.2, §3.3   |
 * | files/shared.ts                 | helpers they share: hash, filler, offset table, 90/91 keys | §3.2, §3.3   |
 */
import type { Profile } from './schema.ts';
import type { DerivedFiles } from './derived.ts';
import { jpkiFiles } from './files/jpki-ap.ts';
import { textFiles } from './files/text-ap.ts';
import { faceFiles } from './files/face-ap.ts';
import { jukiRecords } from './files/juki-ap.ts';
import { commonRecords } from './files/common-ap.ts';
import { getData } from './files/mf.ts';
import { verificationKeys } from './files/verification.ts';

export { cardPublicKey, publicKeyFromCard } from './files/shared.ts';
export { cvcDigestInfo, cvcTbs, keyId, KEY_IDS, sha256DigestInfo, signDigestInfo, verifyDigestInfo } from './files/issuer.ts';
export { issuerDigestInfos, type IssuerSignatureName } from './files/issuer-signatures.ts';
export { tokenInfo } from './files/jpki-ap.ts';
export { textApKeyTbs, textBasic4, textIntegrityTbs, textMyNumberFile } from './files/text-ap.ts';
export { faceAgeTbs, faceDigestInfo, faceSegments, myNumberImageTbs } from './files/face-ap.ts';

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
