/**
 * The few BER-TLV helpers the card's files need (ISO/IEC 7816-4 5.2, JICSAP): tags of one to three
 * bytes given as a number (0xDF21, 0x7F21, 0x90), definite lengths, and a reader that walks a run of
 * objects. The reader is for tests and tools; the card itself never parses its own files.
 *
 * Length form: one byte below 128, otherwise always `82 xx xx` [1]. Evidence: 券面入力補助AP EF 0005
 * starts `FF 40 82 00 9F` on a card (jpki/myna src/reader.rs test): the value is 159 bytes only if
 * DF43 (128 bytes) is written `DF 43 82 00 80` (7 + 19 + 133), and the outer 159 is itself in the
 * `82` form. All other lengths seen on cards are < 128 or ≥ 256, where every encoder agrees.
 */

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function tagBytes(tag: number): number[] {
  if (tag > 0xffff) return [tag >>> 16, (tag >>> 8) & 0xff, tag & 0xff];
  if (tag > 0xff) return [tag >>> 8, tag & 0xff];
  return [tag];
}

export function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  if (n <= 0xffff) return [0x82, n >>> 8, n & 0xff];
  throw new RangeError(`BER length ${n} is larger than this card's files allow`);
}

/** DER (X.509, DigestInfo): the shortest form, `81 xx` for 128..255. */
export function derLengthBytes(n: number): number[] {
  return n >= 0x80 && n <= 0xff ? [0x81, n] : lengthBytes(n);
}

/** One DER object (shortest length form). */
export function derTlv(tag: number, value: Uint8Array): Uint8Array {
  return concat(Uint8Array.from([...tagBytes(tag), ...derLengthBytes(value.length)]), value);
}

/** Number of bytes of the tag + length header of an object with this tag and value length. */
export function headerLength(tag: number, valueLength: number): number {
  return tagBytes(tag).length + lengthBytes(valueLength).length;
}

/** One BER object: tag, shortest definite length, value. */
export function tlv(tag: number, ...value: Uint8Array[]): Uint8Array {
  const v = value.length === 1 ? value[0] : concat(...value);
  return concat(Uint8Array.from([...tagBytes(tag), ...lengthBytes(v.length)]), v);
}

export const ascii = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));
export const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

export interface Tlv {
  tag: number;
  /** Offset of the object's first byte in the buffer that was walked. */
  offset: number;
  headerLength: number;
  value: Uint8Array;
  /** The whole object, header included. */
  raw: Uint8Array;
}

/** Reads one BER object at `offset`. Throws RangeError on a malformed or truncated object. */
export function readTlv(buf: Uint8Array, offset = 0): Tlv {
  let p = offset;
  const need = (n: number) => {
    if (p + n > buf.length) throw new RangeError(`truncated BER object at offset ${offset}`);
  };
  need(1);
  let tag = buf[p++];
  if ((tag & 0x1f) === 0x1f) {
    do {
      need(1);
      tag = tag * 256 + buf[p++];
    } while (buf[p - 1] & 0x80);
  }
  need(1);
  let len = buf[p++];
  if (len & 0x80) {
    const k = len & 0x7f;
    if (k < 1 || k > 3) throw new RangeError(`unsupported BER length form ${len.toString(16)} at offset ${offset}`);
    need(k);
    len = 0;
    for (let i = 0; i < k; i++) len = len * 256 + buf[p++];
  }
  need(len);
  return {
    tag,
    offset,
    headerLength: p - offset,
    value: buf.subarray(p, p + len),
    raw: buf.subarray(offset, p + len),
  };
}

/** Walks consecutive objects until the end or until a filler byte (00 or FF) where a tag would start. */
export function readAll(buf: Uint8Array, offset = 0): Tlv[] {
  const out: Tlv[] = [];
  let p = offset;
  while (p < buf.length && buf[p] !== 0x00 && buf[p] !== 0xff) {
    const t = readTlv(buf, p);
    out.push(t);
    p += t.raw.length;
  }
  return out;
}
