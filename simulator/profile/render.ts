/**
 * The card-face images of 券面事項確認AP (docs/card.md §3.3): name and address (DF25, DF26), security code
 * (DF2A, 24×12 on a real card) and My Number (EF 0005 DF41, 72×12 on a real card), as 1-bit
 * greyscale PNGs [T] (myna-card src/ap/surface.rs).
 *
 * Rendering is deliberately cheap and deterministic: one 12-pixel-high line of text.
 * - ASCII (and its full-width forms U+FF01..FF5E, as used for block numbers in addresses) is drawn
 *   with a built-in 5×7 bitmap font; lower case is drawn as upper case; characters without a glyph
 *   get the box pattern below. Half-width characters take 6 px, full-width ones 12 px.
 * - Every other character (kanji, kana) is a 10×10 box with a pattern of dots derived from its code
 *   point: not legible, but (almost always) distinct per character and identical on every run.
 * So the 12 digits of a My Number are exactly 72×12 and a 4-digit security code 24×12, as on a card.
 */
import { crc32, deflateSync } from 'node:zlib';

/** 5×7 glyphs, one hex byte per row, bit 4 = leftmost column. */
const FONT: Record<string, string> = {
  '0': '0E11131519110E',
  '1': '040C040404040E',
  '2': '0E11010204081F',
  '3': '1F02040201110E',
  '4': '02060A121F0202',
  '5': '1F101E0101110E',
  '6': '0608101E11110E',
  '7': '1F010204080808',
  '8': '0E11110E11110E',
  '9': '0E11110F01020C',
  A: '0E11111F111111',
  B: '1E11111E11111E',
  C: '0E11101010110E',
  D: '1C12111111121C',
  E: '1F10101E10101F',
  F: '1F10101E101010',
  G: '0E11101711110F',
  H: '1111111F111111',
  I: '0E04040404040E',
  J: '0702020202120C',
  K: '11121418141211',
  L: '1010101010101F',
  M: '111B1515111111',
  N: '11111915131111',
  O: '0E11111111110E',
  P: '1E11111E101010',
  Q: '0E11111115120D',
  R: '1E11111E141211',
  S: '0F10100E01011E',
  T: '1F040404040404',
  U: '1111111111110E',
  V: '11111111110A04',
  W: '1111111515150A',
  X: '11110A040A1111',
  Y: '1111110A040404',
  Z: '1F01020408101F',
  ' ': '00000000000000',
  '-': '0000001F000000',
  '.': '00000000000C0C',
  ',': '00000000000C08',
  '/': '01010204081010',
  ':': '000C0C000C0C00',
  '(': '02040808080402',
  ')': '08040202020408',
  '#': '0A0A1F0A1F0A0A',
  '+': '0004041F040400',
  "'": '0C040800000000',
  '&': '0C12140815120D',
};

function glyphRows(ch: string): number[] | undefined {
  const hex = FONT[ch] ?? FONT[ch.toUpperCase()];
  if (!hex) return undefined;
  const rows: number[] = [];
  for (let i = 0; i < 14; i += 2) rows.push(parseInt(hex.slice(i, i + 2), 16));
  return rows;
}

export const LINE_HEIGHT = 12;

/** A 1-bit bitmap: `ink[y * width + x]` is 1 where the pixel is black. */
export interface Bitmap {
  width: number;
  height: number;
  ink: Uint8Array;
}

function drawGlyph(b: Bitmap, x0: number, rows: number[]): void {
  for (let r = 0; r < 7; r++) {
    for (let c = 0; c < 5; c++) if (rows[r] & (0x10 >> c)) b.ink[(2 + r) * b.width + x0 + c] = 1;
  }
}

/** 10×10 box outline with a 4×4 grid of dots inside, the dots chosen by a hash of the code point. */
function drawBox(b: Bitmap, x0: number, cp: number): void {
  let h = Math.imul(cp ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  for (let i = 0; i < 10; i++) {
    b.ink[1 * b.width + x0 + 1 + i] = 1;
    b.ink[10 * b.width + x0 + 1 + i] = 1;
    b.ink[(1 + i) * b.width + x0 + 1] = 1;
    b.ink[(1 + i) * b.width + x0 + 10] = 1;
  }
  for (let k = 0; k < 16; k++) {
    if (!((h >>> k) & 1)) continue;
    b.ink[(3 + Math.floor(k / 4) * 2) * b.width + x0 + 3 + (k % 4) * 2] = 1;
  }
}

/** Lays out one line of text; see the file comment for the rules. */
export function renderText(text: string): Bitmap {
  const cells = [...text].map((ch) => {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) return { w: 6, rows: glyphRows(ch), cp };
    if (cp === 0x3000) return { w: 12, rows: glyphRows(' '), cp };
    if (cp >= 0xff01 && cp <= 0xff5e) return { w: 12, rows: glyphRows(String.fromCharCode(cp - 0xfee0)), cp };
    return { w: 12, rows: undefined, cp };
  });
  const width = Math.max(
    1,
    cells.reduce((n, c) => n + c.w, 0),
  );
  const b: Bitmap = { width, height: LINE_HEIGHT, ink: new Uint8Array(width * LINE_HEIGHT) };
  let x = 0;
  for (const c of cells) {
    if (c.rows) drawGlyph(b, x + (c.w === 12 ? 3 : 0), c.rows);
    else if (c.w === 12) drawBox(b, x, c.cp);
    else drawBox6(b, x);
    x += c.w;
  }
  return b;
}

/** A half-width character without a glyph: a hollow 5×7 rectangle. */
function drawBox6(b: Bitmap, x0: number): void {
  drawGlyph(b, x0, [0x1f, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1f]);
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Encodes a bitmap as a PNG, greyscale, bit depth 1 (0 = black ink, 1 = white paper). */
export function encodePng1(b: Bitmap): Uint8Array {
  const stride = Math.ceil(b.width / 8);
  const raw = Buffer.alloc((stride + 1) * b.height, 0);
  for (let y = 0; y < b.height; y++) {
    const row = y * (stride + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < b.width; x++) {
      if (!b.ink[y * b.width + x]) raw[row + 1 + (x >> 3)] |= 0x80 >> (x & 7);
    }
    // padding bits past the width stay 0 (PNG ignores them)
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(b.width, 0);
  ihdr.writeUInt32BE(b.height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // colour type: greyscale
  // compression, filter, interlace: 0
  return new Uint8Array(Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', new Uint8Array(0))]));
}

export const renderPng = (text: string): Uint8Array => encodePng1(renderText(text));
