/**
 * What the drivers do to a client's output: normalise it for matching (ANSI stripped, CRLF → LF),
 * split it into lines as it arrives, and look for the run's PIN values in it (CLIENT-006).
 */

/** CSI (`ESC [ ... final`), OSC (`ESC ] ... BEL|ST`), charset selection and other two-byte escapes. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC and BEL are what terminal escapes are made of
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()*+][0-9A-Za-z]|\x1b[@-Z\\-_=>]/g;
/** An escape sequence that may still be completed by the next chunk. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: as above
const OPEN_ESCAPE = /\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[()*+])?$/;

export function normalise(text: string): string {
  return text.replace(ANSI, '').replace(/\r\n/g, '\n');
}

/**
 * Normalises a stream chunk by chunk. An escape sequence cut at a chunk's end, and a CR that may be
 * the first half of a CRLF (also with escapes between them), are held back until the next chunk, so
 * the normalised text only ever grows (prompt positions stay valid) and equals that of the whole.
 */
export class StreamNormaliser {
  /** Raw: the start of an escape sequence. */
  private openEscape = '';
  /** Stripped: a CR not yet followed by anything but escapes. */
  private cr = '';

  push(chunk: string): string {
    let text = this.openEscape + chunk;
    this.openEscape = '';
    const open = OPEN_ESCAPE.exec(text);
    if (open) {
      this.openEscape = open[0];
      text = text.slice(0, open.index);
    }
    let plain = this.cr + text.replace(ANSI, '');
    this.cr = '';
    if (plain.endsWith('\r')) {
      this.cr = '\r';
      plain = plain.slice(0, -1);
    }
    return plain.replace(/\r\n/g, '\n');
  }

  /** What was held back, at the end of the stream. */
  end(): string {
    const rest = normalise(this.cr + this.openEscape);
    this.cr = '';
    this.openEscape = '';
    return rest;
  }
}

/** Calls `emit` with each complete line of a growing text; `end` emits the last, unterminated one. */
export class LineSplitter {
  private partial = '';

  constructor(private readonly emit: (line: string) => void) {}

  push(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.emit(line);
  }

  end(): void {
    if (this.partial !== '') this.emit(this.partial);
    this.partial = '';
  }
}

/** The PIN values of a run: every non-empty `pins.*` template variable. */
export function pinValues(vars: Record<string, string>): string[] {
  return Object.entries(vars)
    .filter(([name, value]) => name.startsWith('pins.') && value !== '')
    .map(([, value]) => value);
}

/**
 * Whether a PIN value appears in the raw output: as text (also with ANSI codes between its
 * characters, hence the normalised copy), or as the hex of its bytes the way an unmasked APDU log
 * prints it (`31323334`, `31 32 33 34`, `31:32:33:34`, either case).
 *
 * As text it must stand as a word of its own (no letter or digit right before or after it): a 4-digit
 * PIN occurs by chance in about one 512-digit hex signature in a hundred, and a verdict must not depend
 * on luck. `PIN: 1234`, `"1234"` or `pin=1234` are found; `…a91234c…` inside a hex dump is not. The hex
 * form is searched anywhere (eight or more hex digits: a chance match is below one in a million).
 */
export function containsPin(raw: string, pins: string[]): boolean {
  const plain = normalise(raw);
  return pins.some((pin) => {
    const word = asWord(pin);
    return word.test(raw) || word.test(plain) || hexOf(pin).test(raw);
  });
}

function asWord(pin: string): RegExp {
  return new RegExp(`(?<![A-Za-z0-9])${pin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9])`);
}

function hexOf(pin: string): RegExp {
  const bytes = Array.from(Buffer.from(pin, 'utf8'), (b) => b.toString(16).padStart(2, '0'));
  return new RegExp(bytes.join('[ :]?'), 'i'); // no boundaries: a trace prints the command as one hex run
}
