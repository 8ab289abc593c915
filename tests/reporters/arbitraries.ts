/** fast-check text that a client or a scenario file could throw at a report. */
import fc from 'fast-check';

const controlChar = fc
  .integer({ min: 0, max: 0x9f })
  .filter((c) => c < 0x20 || c >= 0x7f)
  .map((c) => String.fromCharCode(c));
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const ansi = fc.constantFrom(
  '\u001b[31m',
  '\u001b[0m',
  '\u001b[2J\u001b[H',
  '\u001b]0;title\u0007',
  '\u001b]8;;http://x\u001b\\',
  '\u001bPq#0\u001b\\',
  '\u001b7',
  '\u009b1;2H',
);
const xmlSpecial = fc.constantFrom('<', '>', '&', '"', "'", ']]>', '&amp;', '<![CDATA[', '\r\n', '\uFFFE', '\uFFFF');

/** fullUnicode characters mixed with controls, lone surrogates, terminal sequences and XML specials. */
export const hostileText = fc
  .array(fc.oneof(fc.string({ unit: 'binary', maxLength: 4 }), controlChar, loneSurrogate, ansi, xmlSpecial), { maxLength: 12 })
  .map((parts) => parts.join(''));

/** What cleanText must never leave: controls but tab/LF, DEL, C1, lone surrogates, U+FFFE/U+FFFF. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point
export const UNPRINTABLE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\uFFFE\uFFFF]|[\uD800-\uDFFF]/u;
