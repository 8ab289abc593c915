/**
 * The client's BER-TLV reader, written from the card reference (docs/card.md §3.2.1, §3.3, §8) and
 * not shared with the simulator's writer, so that a wrong length or tag form on the card cannot be
 * read back "correctly" by the same mistake.
 *
 * What the card's files use, and all this reader accepts:
 * - tags of 1 to 3 bytes: a first byte whose low 5 bits are all 1 (`1F`) continues, and so does every
 *   following byte with bit 8 set (`DF 21`, `7F 21`, `5F 4E`, `FF 20`; ISO/IEC 7816-4 5.2);
 * - definite lengths: one byte `00`-`7F`, or `81 xx`, or `82 xx xx`.
 * Anything else (indefinite `80`, `83`+, a 4-byte tag, an object running past the buffer) is refused
 * with a {@link TlvError} that names the offset and what was found.
 */

export class TlvError extends Error {
  constructor(
    readonly offset: number,
    problem: string,
  ) {
    super(`BER-TLV at offset ${offset}: ${problem} (the card's objects use 1-3 byte tags and short, 81 or 82 lengths, docs/card.md §3.2.1)`);
    this.name = 'TlvError';
  }
}

export interface Tlv {
  /** The tag bytes as one number, e.g. 0xDF21, 0x7F21, 0x90. */
  tag: number;
  /** Offset of the object's first byte in the buffer read. */
  offset: number;
  /** Bytes of tag + length. */
  headerLength: number;
  value: Uint8Array;
  /** The whole object, header included (what the issuer's signatures cover). */
  raw: Uint8Array;
}

const MAX_TAG_BYTES = 3;

/** Reads tag and length at `offset`; the value may lie beyond the buffer (see {@link readTlv}). */
export function readHeader(buf: Uint8Array, offset = 0): { tag: number; headerLength: number; length: number } {
  let p = offset;
  const byte = (what: string): number => {
    if (p >= buf.length) throw new TlvError(offset, `truncated: the ${what} needs byte ${p - offset + 1}, only ${buf.length - offset} left`);
    return buf[p++];
  };
  let tag = byte('tag');
  if ((tag & 0x1f) === 0x1f) {
    let b: number;
    do {
      if (p - offset === MAX_TAG_BYTES) throw new TlvError(offset, `tag longer than ${MAX_TAG_BYTES} bytes`);
      b = byte('tag');
      tag = tag * 0x100 + b;
    } while (b & 0x80);
  }
  const first = byte('length');
  let length: number;
  if (first < 0x80) length = first;
  else if (first === 0x81) length = byte('length');
  else if (first === 0x82) length = byte('length') * 0x100 + byte('length');
  else throw new TlvError(offset, `length form ${first.toString(16).toUpperCase().padStart(2, '0')} is not short, 81 or 82`);
  return { tag, headerLength: p - offset, length };
}

/** Reads one complete object at `offset`. */
export function readTlv(buf: Uint8Array, offset = 0): Tlv {
  const { tag, headerLength, length } = readHeader(buf, offset);
  const start = offset + headerLength;
  if (start + length > buf.length) {
    throw new TlvError(offset, `truncated: the value is ${length} bytes, only ${buf.length - start} left`);
  }
  return { tag, offset, headerLength, value: buf.subarray(start, start + length), raw: buf.subarray(offset, start + length) };
}

/** Reads the objects that exactly fill `buf` from `offset` on (the contents of a constructed object). */
export function readAll(buf: Uint8Array, offset = 0): Tlv[] {
  const out: Tlv[] = [];
  for (let p = offset; p < buf.length; ) {
    const t = readTlv(buf, p);
    out.push(t);
    p += t.raw.length;
  }
  return out;
}

/** The outer object of a file (filler after it ignored) and its members, by tag. */
export function readConstructed(file: Uint8Array): { outer: Tlv; members: Tlv[]; byTag: Map<number, Tlv> } {
  const outer = readTlv(file);
  const members = readAll(outer.value).map((m) => ({ ...m, offset: m.offset + outer.headerLength }));
  return { outer, members, byTag: new Map(members.map((m) => [m.tag, m])) };
}
