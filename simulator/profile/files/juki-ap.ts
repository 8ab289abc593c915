/**
 * 住基AP (resident registry AP): record EF 0002, one 16-byte key reference, the same as 共通カードAP
 * EF 0002 (docs/card.md §3.4). Its value on real cards is unknown [U]; the simulator writes its own
 * key ID (issuer.ts KEY_IDS.recordKeyRef).
 */
import { KEY_IDS } from './issuer.ts';

/** Record EFs by FID: their records. */
export function jukiRecords(): Map<number, Uint8Array[]> {
  return new Map([[0x0002, [KEY_IDS.recordKeyRef]]]);
}
