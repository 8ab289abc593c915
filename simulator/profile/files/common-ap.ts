/**
 * 共通カードAP (common card AP): record EFs 0001 and 0002 (docs/card.md §3.5). Record 1 of EF 0001 is
 * a simple TLV `01 1C` + 28 ASCII digits: card serial (15), municipality code (5), expiry YYYYMMDD (8)
 * [T]. EF 0002 holds the 16-byte key reference that 住基AP EF 0002 also holds (juki-ap.ts).
 */
import type { Profile } from '../schema.ts';
import { ascii, concat } from '../tlv.ts';
import { KEY_IDS } from './issuer.ts';
import { yyyymmdd } from './shared.ts';

/** Record EFs by FID: their records. */
export function commonRecords(p: Profile): Map<number, Uint8Array[]> {
  const record1 = concat(Uint8Array.of(0x01, 0x1c), ascii(p.card.serial + p.card.municipalityCode + yyyymmdd(p.card.expiry)));
  return new Map([
    [0x0001, [record1]],
    [0x0002, [KEY_IDS.recordKeyRef]],
  ]);
}
