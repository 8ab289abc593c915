/**
 * 券面事項入力補助AP (card-info input support AP): EFs 0001..0008 (docs/card.md §3.2, §3.2.1), and the
 * two byte strings the issuer signs in it (0003 DF33, 0007 DF52; see issuer-signatures.ts).
 *
 * ## Choices this simulator makes [I]
 * - EF 0006 (session-key delivery key) holds the public half of the AP's own key 0013
 *   (profile.keys.textAp); on a real card it is a separate key (myna-card src/ap/text.rs).
 * - EF 0005 DF43 is opaque bytes (shared.ts `opaque`), then 96 × `FF` as seen on cards.
 * - Only EF 0001 (17 B with `FF FF`, a fact [T]) and EF 0005 (behaviour.textApBasicInfoSize with
 *   behaviour.filler, docs/card.md §8) carry filler; EF 0002 is sized exactly to the object.
 */
import type { Profile } from '../schema.ts';
import { ascii, concat, tlv, utf8 } from '../tlv.ts';
import { cvcFile, KEY_IDS } from './issuer.ts';
import { cardPublicKey, fill, hexBytes, opaque, readPublicKey, sha256, withOffsetTable, yyyymmdd } from './shared.ts';

/** EF 0001: `FF 10 0C` + 12 digits + `FF FF` to 17 bytes [T] (a fact, so not behaviour.filler). */
export function textMyNumberFile(p: Profile): Uint8Array {
  const obj = tlv(0xff10, ascii(p.holder.myNumber));
  return concat(obj, fill(17 - obj.length, 0xff));
}

/** The four objects DF22..DF25 of EF 0002 (docs/card.md §3.2.1). */
function basic4Objects(p: Profile): Uint8Array[] {
  const h = p.holder;
  return [tlv(0xdf22, utf8(h.name)), tlv(0xdf23, utf8(h.address)), tlv(0xdf24, ascii(yyyymmdd(h.birthDate))), tlv(0xdf25, ascii(h.sex))];
}

/** EF 0002: basic 4 attributes, `FF 20` with the DF21 offset table first (docs/card.md §3.2.1) [T]. */
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

/** EFs 0001..0008 by FID, as stored (filler included). */
export function textFiles(p: Profile): Map<number, Uint8Array> {
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
