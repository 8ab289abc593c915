import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeFrame, FrameDecoder, MAX_PAYLOAD } from '../../simulator/transport/vpcd/framing.ts';

const payload = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 5000 }) },
  { weight: 1, arbitrary: fc.constantFrom(1, 2, 0xff, 0x100, 0x101, MAX_PAYLOAD).map((n) => new Uint8Array(n).fill(0xa5)) },
);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Splits a stream at the given cut points (sorted, deduplicated, within range). */
function split(stream: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, stream.length]) {
    chunks.push(stream.subarray(prev, p));
    prev = p;
  }
  return chunks;
}

describe('vpcd framing', () => {
  it('encodes a 2-byte big-endian length and the payload', () => {
    expect([...encodeFrame(Uint8Array.of(0x04))]).toEqual([0, 1, 4]);
    const big = encodeFrame(new Uint8Array(0x1234));
    expect([big[0], big[1]]).toEqual([0x12, 0x34]);
    expect(big.length).toBe(0x1236);
  });

  it('refuses to encode an empty or over-long payload (vpcd would hang or reject it)', () => {
    expect(() => encodeFrame(new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeFrame(new Uint8Array(MAX_PAYLOAD + 1))).toThrow(RangeError);
    expect(encodeFrame(new Uint8Array(MAX_PAYLOAD)).length).toBe(MAX_PAYLOAD + 2);
  });

  it('any sequence of frames, split at arbitrary byte boundaries or coalesced, decodes to the same frames', () => {
    fc.assert(
      fc.property(fc.array(payload, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (frames, cuts) => {
        const stream = concat(frames.map(encodeFrame));
        const dec = new FrameDecoder();
        const out: Uint8Array[] = [];
        for (const chunk of split(stream, cuts)) {
          const r = dec.push(chunk);
          expect(r.error).toBeUndefined();
          out.push(...r.frames);
        }
        expect(out.map((f) => Buffer.from(f).toString('hex'))).toEqual(frames.map((f) => Buffer.from(f).toString('hex')));
        expect(dec.pending).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes a stream fed one byte at a time', () => {
    const frames = [Uint8Array.of(4), Uint8Array.of(0, 0xa4, 0, 0x0c, 2, 0x3f, 0), Uint8Array.of(1)];
    const stream = concat(frames.map(encodeFrame));
    const dec = new FrameDecoder();
    const out: Uint8Array[] = [];
    for (const b of stream) out.push(...dec.push(Uint8Array.of(b)).frames);
    expect(out).toEqual(frames);
  });

  it('returns copies: mutating the input chunk afterwards does not change a decoded frame', () => {
    const chunk = encodeFrame(Uint8Array.of(1, 2, 3));
    const dec = new FrameDecoder();
    const [f] = dec.push(chunk).frames;
    chunk.fill(0);
    expect([...f]).toEqual([1, 2, 3]);
  });

  it('rejects a zero-length frame, keeps the frames before it, and stays failed', () => {
    const dec = new FrameDecoder();
    const r = dec.push(concat([encodeFrame(Uint8Array.of(4)), Uint8Array.of(0, 0), encodeFrame(Uint8Array.of(1))]));
    expect(r.frames).toEqual([Uint8Array.of(4)]);
    expect(r.error).toMatch(/zero-length/);
    const again = dec.push(encodeFrame(Uint8Array.of(4)));
    expect(again.frames).toEqual([]);
    expect(again.error).toMatch(/zero-length/);
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
        const dec = new FrameDecoder();
        for (const c of chunks) dec.push(c);
      }),
      { numRuns: 500 },
    );
  });
});
