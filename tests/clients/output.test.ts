/**
 * The drivers' building blocks: output normalisation (whatever the chunking), PIN leak detection,
 * `{name}` templates, and the prompt answerer's settle on quiet output.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { containsPin, LineSplitter, normalise, pinValues, StreamNormaliser } from '../../harness/clients/output.ts';
import { PromptAnswerer } from '../../harness/clients/prompts.ts';
import { expandVars } from '../../harness/clients/vars.ts';
import { InputError } from '../../simulator/errors.ts';
import { inputErrorOf } from '../support/errors.ts';

const ESCAPES = ['\x1b[1m', '\x1b[0m', '\x1b[38;5;196m', '\x1b[2K', '\x1b[?25l', '\x1b]0;title\x07', '\x1b]0;t\x1b\\', '\x1b(B', '\x1b='];

/** Text with escapes, CRLFs and lone CRs among plain characters. */
const terminalText = fc
  .array(fc.oneof(fc.constantFrom(...ESCAPES, '\r\n', '\r', '\n'), fc.string({ unit: fc.constantFrom('a', 'P', ':', ' ', '暗', '1') })))
  .map((parts) => parts.join(''));

/** Cuts a text into chunks at arbitrary places. */
function chunks(text: string, cuts: number[]): string[] {
  const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let from = 0;
  for (const c of [...at, text.length]) {
    out.push(text.slice(from, c));
    from = c;
  }
  return out;
}

describe('normalise', () => {
  it('strips ANSI sequences and turns CRLF into LF, keeping a lone CR', () => {
    expect(normalise('\x1b[1mPIN:\x1b[0m \r\nok\x1b]0;title\x07\r\n50%\r100%')).toBe('PIN: \nok\n50%\r100%');
  });

  it('chunk by chunk gives the same text as all at once, wherever the chunks are cut', () => {
    fc.assert(
      fc.property(terminalText, fc.array(fc.nat()), (text, cuts) => {
        const n = new StreamNormaliser();
        const out =
          chunks(text, cuts)
            .map((c) => n.push(c))
            .join('') + n.end();
        expect(out).toBe(normalise(text));
      }),
    );
  });

  it('lines are emitted as they complete, the unterminated last one at the end', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    s.push('a\nb');
    expect(lines).toEqual(['a']);
    s.push('c\n\nd');
    s.end();
    expect(lines).toEqual(['a', 'bc', '', 'd']);
  });
});

describe('PIN leaks', () => {
  it('the PIN values are the pins.* variables', () => {
    expect(pinValues({ 'pins.auth': '4719', 'pins.wrong.auth': '8302', reader: 'R', 'pins.none': '' })).toEqual(['4719', '8302']);
  });

  it('finds a PIN as text, split by ANSI codes, or as hex bytes; nothing else', () => {
    expect(containsPin('pin=4719\n', ['4719'])).toBe(true);
    expect(containsPin('pin=47\x1b[0m19\n', ['4719'])).toBe(true);
    expect(containsPin('00200080043437313900', ['4719'])).toBe(true);
    expect(containsPin('00 20 00 80 04 34 37 31 39', ['4719'])).toBe(true);
    expect(containsPin('51 5A 37 4B 32 4D', ['QZ7K2M'])).toBe(true);
    expect(containsPin('pin=471 9, 34 37 31 38', ['4719'])).toBe(false);
  });

  it('any text with a PIN inserted as a word of its own is a leak', () => {
    fc.assert(
      fc.property(terminalText, terminalText, fc.stringMatching(/^[0-9]{4}$/), fc.constantFrom(' ', '=', '"', ':', '\n'), (before, after, pin, sep) => {
        expect(containsPin(`${before}${sep}${pin}${sep}${after}`, [pin])).toBe(true);
      }),
    );
  });

  it('a 4-digit PIN that only occurs inside a longer run of letters and digits (a hex signature) is not a leak', () => {
    expect(containsPin('signature (auth key, 256 bytes): 9f3a41234c0d', ['1234'])).toBe(false);
    expect(containsPin('serial 00123400', ['1234'])).toBe(false);
    expect(containsPin('PIN 1234 sent', ['1234'])).toBe(true);
  });
});

describe('templates', () => {
  const vars = { reader: 'Virtual PCD 00 00', 'pins.auth': '4719', 'args.x': 'y' };

  it('expands {name} and leaves other braces alone', () => {
    expect(expandVars('--reader={reader} --pin {pins.auth} {args.x}', vars, 'w')).toBe('--reader=Virtual PCD 00 00 --pin 4719 y');
    const shell = ['{"a": 1} { reader } $', '{HOME}'].join(''); // a shell's ${HOME} is not a template
    expect(expandVars(shell, vars, 'w')).toBe(shell);
  });

  it('text without a template is unchanged', () => {
    fc.assert(
      fc.property(
        fc.string().filter((s) => !/(?<!\$)\{[A-Za-z_][\w.-]*\}/.test(s)),
        (s) => {
          expect(expandVars(s, vars, 'w')).toBe(s);
        },
      ),
    );
  });

  it('an unknown name is an input error naming the place and the names the run has', () => {
    const err = inputErrorOf(() => expandVars('{pins.sing}', vars, 'clients.yaml:4:7 kiosk args[1]'));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe(
      'clients.yaml:4:7 kiosk args[1]: unknown template variable {pins.sing}; the run defines: args.x, pins.auth, reader. Fix the name or remove the braces.',
    );
  });
});

describe('the prompt answerer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('replies once the output has been quiet for the settle period after the prompt', () => {
    const sent: string[] = [];
    const a = new PromptAnswerer([{ prompt: 'PIN: ', reply: 'r1' }], (r) => sent.push(r), { settleMs: 30, maxSettleMs: 500 });
    a.push('hello\nPI');
    vi.advanceTimersByTime(100);
    expect(sent).toEqual([]); // prompt not complete yet
    a.push('N: ');
    vi.advanceTimersByTime(20);
    a.push('\x1b'); // more output: the quiet period starts again
    vi.advanceTimersByTime(20);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(10);
    expect(sent).toEqual(['r1']);
    expect(a.unanswered()).toEqual([]);
  });

  it('replies at the latest maxSettleMs after the prompt when the output never goes quiet', () => {
    const sent: string[] = [];
    const a = new PromptAnswerer([{ prompt: 'PIN: ', reply: 'r1' }], (r) => sent.push(r), { settleMs: 30, maxSettleMs: 100 });
    a.push('PIN: ');
    for (let t = 0; t < 90; t += 10) {
      vi.advanceTimersByTime(10);
      a.push('.');
    }
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(10);
    expect(sent).toEqual(['r1']);
  });

  it('answers in order, each prompt after the previous match, never twice', () => {
    const sent: string[] = [];
    const answers = [
      { prompt: 'PIN: ', reply: 'first' },
      { prompt: 'PIN: ', reply: 'second' },
      { prompt: 'go on? ', reply: 'y' },
    ];
    const a = new PromptAnswerer(answers, (r) => sent.push(r), { settleMs: 30, maxSettleMs: 500 });
    a.push('go on? PIN: '); // "go on? " before the first prompt does not count for the third answer
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual(['first']);
    a.push('PIN: go on? ');
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual(['first', 'second', 'y']);
    a.push('PIN: go on? ');
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual(['first', 'second', 'y']);
  });

  it('stopped, it sends nothing more and lists what was never answered', () => {
    const sent: string[] = [];
    const a = new PromptAnswerer([{ prompt: 'PIN: ', reply: 'r' }], (r) => sent.push(r));
    a.push('PIN: ');
    a.stop();
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual([]);
    expect(a.unanswered()).toEqual(['PIN: ']);
  });
});
