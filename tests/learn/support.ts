/**
 * Test support for `card learn`: a channel that records what is sent, and a reader of every file a
 * My Number Card shows without a PIN, written apart from harness/learn (other chunk size, its own
 * loop) so that both cards of a comparison are read by code that is not under test.
 */
import { fromHex, toHex } from '../../simulator/apdu/codec.ts';
import type { ApduChannel } from '../../simulator/card/channel.ts';
import { AID } from '../../harness/flows/card-ref.ts';

export function recording(inner: ApduChannel): ApduChannel & { sent: Uint8Array[] } {
  const sent: Uint8Array[] = [];
  return {
    sent,
    async transmit(command) {
      sent.push(command.slice());
      return inner.transmit(command);
    },
  };
}

const aidHex = (a: Uint8Array) => toHex(a);

/** The EFs readable without a PIN that card learn makes the learned card's own (docs/card-learn.md). */
export const LEARNED_FILES: ReadonlyArray<{ name: string; aid: string; fid: string }> = [
  { name: 'JPKI 0002 sign CA certificate', aid: aidHex(AID.jpki), fid: '0002' },
  { name: 'JPKI 0006 token info', aid: aidHex(AID.jpki), fid: '0006' },
  { name: 'JPKI 0008 certificate availability', aid: aidHex(AID.jpki), fid: '0008' },
  { name: 'JPKI 000A auth certificate', aid: aidHex(AID.jpki), fid: '000A' },
  { name: 'JPKI 000B auth CA certificate', aid: aidHex(AID.jpki), fid: '000B' },
];

async function tx(ch: ApduChannel, hex: string): Promise<{ data: string; sw: string }> {
  const r = toHex(await ch.transmit(fromHex(hex.replace(/\s+/g, ''))));
  return { data: r.slice(0, -4), sw: r.slice(-4) };
}

/**
 * What the card shows without a PIN, as `name → hex` (or `SW xxxx` where it refuses): the learned
 * EFs read whole in 0x80-byte chunks, 共通カードAP record 1, and the MF-level GET DATA objects.
 */
export async function publicView(ch: ApduChannel): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const tag of ['0045', '00F0', '00F2', '5F51']) {
    const r = await tx(ch, `00CA${tag}00`);
    out[`GET DATA ${tag}`] = r.sw === '9000' ? r.data : `SW ${r.sw}`;
  }
  for (const f of LEARNED_FILES) {
    await tx(ch, `00A4040C${(f.aid.length / 2).toString(16).padStart(2, '0')}${f.aid}`);
    const sel = await tx(ch, `00A4020C02${f.fid}`);
    if (sel.sw !== '9000') {
      out[f.name] = `SW ${sel.sw}`;
      continue;
    }
    let data = '';
    for (let off = 0; ; off += 0x80) {
      const r = await tx(ch, `00B0${off.toString(16).padStart(4, '0')}80`);
      if (r.sw === '6B00') break;
      if (r.sw !== '9000') {
        data = `SW ${r.sw}`;
        break;
      }
      data += r.data;
      if (r.data.length < 0x100) break;
    }
    out[f.name] = data;
  }
  await tx(ch, `00A4040C0A${aidHex(AID.common)}`);
  await tx(ch, '00A4020C020001');
  const rec = await tx(ch, '00B2010400');
  out['共通カードAP 0001 record 1'] = rec.sw === '9000' ? rec.data : `SW ${rec.sw}`;
  return out;
}
