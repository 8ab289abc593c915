import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cleanLine, cleanText, expectationKind, expectationText, formatDuration, summaryText } from '../../harness/reporters/text.ts';
import { hostileText, UNPRINTABLE } from './arbitraries.ts';
import { NASTY_LINE, NASTY_LINE_CLEAN } from './events.ts';

describe('cleanText', () => {
  it('removes colours, bells, backspaces and 8-bit CSI sequences, keeps the text and XML specials', () => {
    expect(cleanText(NASTY_LINE)).toBe(NASTY_LINE_CLEAN);
    expect(cleanText('a\u001b]0;title\u0007b\u001b]8;;http://x\u001b\\c\u001bPq#0\u001b\\d\u001b7e')).toBe('abcde');
    expect(cleanText('progress 10%\rprogress 100%\r\n')).toBe('progress 10%progress 100%\n');
    expect(cleanText('tab\there\nnext')).toBe('tab\there\nnext');
    expect(cleanText('lone \ud800 high, pair \ud83d\ude00, \ufffe\uffff end')).toBe('lone  high, pair \ud83d\ude00,  end');
  });

  it('cleanLine puts a multi-line name on one line', () => {
    expect(cleanLine('a\nb\tc\u001b[1m')).toBe('a b c');
  });

  it('property: leaves nothing unprintable, is idempotent, and keeps printable text as it is', () => {
    fc.assert(
      fc.property(hostileText, (text) => {
        const clean = cleanText(text);
        expect(clean).not.toMatch(UNPRINTABLE);
        expect(clean).not.toContain('\u001b');
        expect(cleanText(clean)).toBe(clean);
        expect(cleanLine(text)).not.toMatch(/[\t\n]/);
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const printable = text.replace(new RegExp(UNPRINTABLE.source, 'gu'), '');
        expect(cleanText(printable)).toBe(printable);
      }),
    );
  });
});

describe('phrases', () => {
  const e = { type: 'expectation', scenario: 'f.yaml#0', what: 'exit', passed: false, where: 'f.yaml:4:7' } as const;

  it('an expectation reads where: what: expected X, got Y (and what it has when a side is missing)', () => {
    expect(expectationText({ ...e, expected: '3', actual: '0' })).toBe('f.yaml:4:7: exit: expected 3, got 0');
    expect(expectationText({ ...e, expected: '3' })).toBe('f.yaml:4:7: exit: expected 3');
    expect(expectationText({ ...e, actual: '0' })).toBe('f.yaml:4:7: exit: got 0');
    expect(expectationText(e)).toBe('f.yaml:4:7: exit');
  });

  it("an expectation's kind is the first word of what", () => {
    expect(expectationKind('exit')).toBe('exit');
    expect(expectationKind('stdout matches')).toBe('stdout');
    expect(expectationKind('card.auth triesLeft')).toBe('card');
    expect(expectationKind('no-pin-leak in pty')).toBe('no-pin-leak');
    expect(expectationKind('  (odd)')).toBe('expectation');
  });

  it('durations in ms below a second, seconds above; nonsense is 0 ms', () => {
    expect([0, 0.4, 999.4, 1000, 1254, -5, Number.NaN].map(formatDuration)).toEqual(['0 ms', '0 ms', '999 ms', '1.00 s', '1.25 s', '0 ms', '0 ms']);
  });

  it('the summary names every status, skipped only when some were', () => {
    expect(summaryText({ passed: 3, failed: 1, error: 0, 'not-applicable': 2, skipped: 0 })).toBe('3 passed, 1 failed, 2 not applicable, 0 errors');
    expect(summaryText({ passed: 0, failed: 0, error: 1, 'not-applicable': 0, skipped: 4 })).toBe('0 passed, 0 failed, 0 not applicable, 1 errors, 4 skipped');
  });
});
