/**
 * vpcd framing: every message, in both directions, is a 2-byte big-endian length followed by that
 * many payload bytes (docs/pcsc-stack.md §5.2). TCP gives a byte stream, so
 * a frame may arrive split over several reads or several frames in one read; {@link FrameDecoder}
 * reassembles them.
 *
 * Malformed input, decided here once for the whole transport:
 * - a **zero-length frame** (`00 00`) is a protocol violation: vpcd never sends one (its controls
 *   are 1 byte, its APDUs 2 bytes or more). The decoder reports it and stops; the connection is closed.
 * - unknown 1-byte control codes are rejected one layer up (see ./messages.ts).
 * A length over 0xFFFF cannot be expressed, so there is no "too long" case on input.
 */

/** Largest payload a frame can carry. */
export const MAX_PAYLOAD = 0xffff;

/** Encodes one frame. Throws RangeError for an empty or over-long payload: the card never sends either. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  if (payload.length === 0) throw new RangeError('vpcd frame payload must not be empty (vpcd would wait forever)');
  if (payload.length > MAX_PAYLOAD) throw new RangeError(`vpcd frame payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  const out = new Uint8Array(payload.length + 2);
  out[0] = payload.length >> 8;
  out[1] = payload.length & 0xff;
  out.set(payload, 2);
  return out;
}

export interface DecodeResult {
  /** Complete frames, in order; each payload is a fresh copy the caller may keep. */
  frames: Uint8Array[];
  /** Set when the stream is malformed. Frames before the fault are still returned; nothing after it is. */
  error?: string;
}

/**
 * Incremental decoder for a vpcd byte stream. Never throws on input: a malformed stream is reported in
 * {@link DecodeResult.error}, after which the decoder is poisoned and every later push reports the same error.
 */
export class FrameDecoder {
  /** Received bytes not yet consumed, as the chunks they arrived in (no copying until a frame completes). */
  private chunks: Uint8Array[] = [];
  private headOffset = 0; // bytes of chunks[0] already consumed
  private length = 0; // unconsumed bytes in total
  private failed: string | undefined;
  private consumed = 0; // stream offset, for error messages

  /** Bytes received but not yet part of a complete frame. */
  get pending(): number {
    return this.length;
  }

  push(chunk: Uint8Array): DecodeResult {
    if (this.failed) return { frames: [], error: this.failed };
    if (chunk.length) {
      this.chunks.push(chunk);
      this.length += chunk.length;
    }
    const frames: Uint8Array[] = [];
    while (this.length >= 2) {
      const len = (this.byteAt(0) << 8) | this.byteAt(1);
      if (len === 0) {
        this.failed = `zero-length frame at stream offset ${this.consumed} (vpcd never sends one)`;
        this.chunks = [];
        this.length = 0;
        return { frames, error: this.failed };
      }
      if (this.length < 2 + len) break;
      this.take(2);
      frames.push(this.take(len));
    }
    return { frames };
  }

  private byteAt(i: number): number {
    let idx = this.headOffset + i;
    for (const c of this.chunks) {
      if (idx < c.length) return c[idx];
      idx -= c.length;
    }
    throw new RangeError('FrameDecoder.byteAt past the end'); // unreachable: callers check length first
  }

  /** Removes n bytes from the front and returns them as a fresh copy (never a view of a caller's chunk). */
  private take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      const avail = c.length - this.headOffset;
      const k = Math.min(avail, n - filled);
      out.set(c.subarray(this.headOffset, this.headOffset + k), filled);
      filled += k;
      this.headOffset += k;
      if (this.headOffset === c.length) {
        this.chunks.shift();
        this.headOffset = 0;
      }
    }
    this.length -= n;
    this.consumed += n;
    return out;
  }
}
