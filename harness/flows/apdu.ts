/**
 * The flows' own command encoder, separate from the simulator's ISO 7816 codec on purpose: if both
 * sides shared one encoder/parser pair, a length-field bug in it would cancel out in every test.
 *
 * Only what the flows send: short APDUs (ISO/IEC 7816-4 5.1), case 1 `CLA INS P1 P2`, case 2 `+ Le`,
 * case 3 `+ Lc data`, case 4 `+ Lc data Le`; Lc 1..255, Ne 1..256 with 256 written as `00`.
 */

export interface Command {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data?: Uint8Array;
  /** Ne, the number of response bytes expected (1..256); absent for no Le. */
  ne?: number;
}

export function encode(c: Command): Uint8Array {
  const data = c.data ?? new Uint8Array(0);
  if (data.length > 255) throw new RangeError(`command data of ${data.length} bytes needs extended length; the flows send short APDUs only`);
  if (c.ne !== undefined && (c.ne < 1 || c.ne > 256)) throw new RangeError(`Ne ${c.ne} is not 1..256 (short APDU)`);
  for (const [name, v] of Object.entries({ CLA: c.cla, INS: c.ins, P1: c.p1, P2: c.p2 })) {
    if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`${name} ${v} is not a byte`);
  }
  const out = [c.cla, c.ins, c.p1, c.p2];
  if (data.length) out.push(data.length, ...data);
  if (c.ne !== undefined) out.push(c.ne & 0xff);
  return Uint8Array.from(out);
}

/** Splits a response into data and SW1 SW2 (the caller has checked there are at least 2 bytes). */
export function split(raw: Uint8Array): { data: Uint8Array; sw: number } {
  return { data: raw.slice(0, raw.length - 2), sw: (raw[raw.length - 2] << 8) | raw[raw.length - 1] };
}

/** The commands of docs/card.md §5 the flows use. */
export const cmd = {
  /** SELECT DF by name, no FCI: `00 A4 04 0C Lc <AID>`; `p2` 00 for the probes other drivers send. */
  selectAp: (aid: Uint8Array, p2 = 0x0c) => encode({ cla: 0x00, ins: 0xa4, p1: 0x04, p2, data: aid }),
  /** SELECT EF by file ID: `00 A4 02 0C 02 <FID>`. */
  selectEf: (fid: number) => encode({ cla: 0x00, ins: 0xa4, p1: 0x02, p2: 0x0c, data: Uint8Array.of(fid >> 8, fid & 0xff) }),
  /** READ BINARY at a 15-bit offset. */
  readBinary: (offset: number, ne: number) => {
    if (!Number.isInteger(offset) || offset < 0 || offset > 0x7fff) throw new RangeError(`READ BINARY offset ${offset} is not 0..7FFF`);
    return encode({ cla: 0x00, ins: 0xb0, p1: offset >> 8, p2: offset & 0xff, ne });
  },
  /** VERIFY on the current key EF; without a value, the tries-left query `00 20 00 80`. */
  verify: (value?: Uint8Array) => encode({ cla: 0x00, ins: 0x20, p1: 0x00, p2: 0x80, data: value }),
  /** COMPUTE DIGITAL SIGNATURE with the current key, P1 00: the card pads the DigestInfo as given. */
  signDigestInfo: (digestInfo: Uint8Array) => encode({ cla: 0x80, ins: 0x2a, p1: 0x00, p2: 0x80, data: digestInfo, ne: 256 }),
};
