/**
 * MF level: the GET DATA objects the card answers with no DF selected, as response data by tag
 * (docs/card.md §3.6) [1] (soltia48/myna-card src/mf.rs). Nothing else lives at MF level.
 */
import type { Profile } from '../schema.ts';
import { ascii, tlv } from '../tlv.ts';
import { cvcContents } from './issuer.ts';
import { hexBytes, yyyymmdd } from './shared.ts';

/** GlobalPlatform card recognition data (GP 2.1.1, SCP02 i=15), a plausible value [I]. */
const GP_CARD_DATA = (() => {
  const gp = (suffix: string) => tlv(0x06, hexBytes(`2a864886fc6b${suffix}`));
  return tlv(0x66, tlv(0x73, gp('01'), tlv(0x60, gp('02020101')), tlv(0x63, gp('03')), tlv(0x64, gp('040215'))));
})();

/** GET DATA response data by tag, e.g. 0x5F51 → the contact ATR without 3B. */
export function getData(p: Profile): Map<number, Uint8Array> {
  const atr = hexBytes(p.card.atr);
  return new Map([
    [0x0042, hexBytes(p.issuer.rootKeyId)], // issuer identification, a 16-byte key ref [I]
    [0x0045, ascii(p.card.serial)], // card identification number
    [0x0066, GP_CARD_DATA],
    [0x00f0, ascii(p.card.municipalityCode)],
    [0x00f2, ascii(yyyymmdd(p.card.expiry))],
    [0x00f7, hexBytes(p.issuer.keyId)], // intermediate key ID
    [0x00f8, cvcContents(p)], // CVC root → issuer, template contents (as GET DATA returns it)
    [0x5f51, atr[0] === 0x3b ? atr.subarray(1) : atr], // contact ATR without the leading 3B
  ]);
}
