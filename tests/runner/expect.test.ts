/** The expectation matchers: status-word wildcards and APDU patterns (properties), text, counters, traces. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkCard, checkDuration, checkText, checkTrace, commandData, commandMatches, entryMatches, swMatches } from '../../harness/runner/expect.ts';
import type { ApduPattern } from '../../harness/scenario/model.ts';
import type { TraceEntry } from '../../harness/targets/target.ts';

const hex2 = (b: number) => b.toString(16).toUpperCase().padStart(2, '0');
const entry = (command: string, sw: string, data = ''): TraceEntry => ({
  command: Buffer.from(command, 'hex'),
  response: Buffer.from(data + sw, 'hex'),
  ms: 1,
});

describe('status word wildcards', () => {
  it('a pattern made from the SW with any digits replaced by x matches it; changing a kept digit does not', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.boolean(), (sw, wild, lower) => {
        const hex = sw.toString(16).toUpperCase().padStart(4, '0');
        const pattern = [...hex].map((d, i) => (wild[i] ? 'x' : lower ? d.toLowerCase() : d)).join('');
        expect(swMatches(pattern, sw)).toBe(true);
        const kept = wild.indexOf(false);
        if (kept >= 0) {
          const other = ((Number.parseInt(hex[kept], 16) + 1) % 16).toString(16);
          expect(swMatches(pattern.slice(0, kept) + other + pattern.slice(kept + 1), sw)).toBe(false);
        }
      }),
    );
  });

  it('no status word and malformed patterns never match', () => {
    expect(swMatches('63Cx', undefined)).toBe(false);
    expect(swMatches('63C', 0x63c0)).toBe(false);
    expect(swMatches('63CG', 0x63c0)).toBe(false);
    expect(swMatches('XXXX', 0x9000)).toBe(true);
  });
});

describe('APDU patterns', () => {
  const command = fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 0, maxLength: 40 }));
  const encode = ([h, d]: [Uint8Array, Uint8Array]) => Uint8Array.from([...h, ...(d.length ? [d.length, ...d] : [])]);

  it('a pattern of the command own fields matches it; one field changed does not', () => {
    fc.assert(
      fc.property(command, fc.constantFrom('cla', 'ins', 'p1', 'p2', 'data'), (c, field) => {
        const cmd = encode(c);
        const [h, d] = c;
        const full: ApduPattern = { cla: hex2(h[0]), ins: hex2(h[1]), p1: hex2(h[2]), p2: hex2(h[3]), data: Buffer.from(d).toString('hex') };
        expect(commandMatches(full, cmd)).toBe(true);
        expect(commandMatches({ ins: full.ins, data: d.length > 0 }, cmd)).toBe(true);
        const i = ['cla', 'ins', 'p1', 'p2'].indexOf(field);
        const changed: ApduPattern = i >= 0 ? { ...full, [field]: hex2((h[i] + 1) & 0xff) } : { ...full, data: `${full.data}00` };
        expect(commandMatches(changed, cmd)).toBe(false);
        expect(commandMatches({ data: d.length === 0 }, cmd)).toBe(false);
      }),
    );
  });

  it('reads the data of short, extended and Le-only commands without throwing', () => {
    expect(commandData(Buffer.from('00B0000000', 'hex'))).toHaveLength(0);
    expect(commandData(Buffer.from('00B00000000100', 'hex'))).toHaveLength(0); // extended Le
    expect(Buffer.from(commandData(Buffer.from('00200080000002313200', 'hex'))).toString()).toBe('12');
    expect(Buffer.from(commandData(Buffer.from('0020008004313233', 'hex'))).toString()).toBe('123'); // Lc lying
  });

  it('sw in a pattern is matched against the response', () => {
    const e = entry('00200080', '63C2');
    expect(entryMatches({ ins: '20', sw: '63Cx' }, e)).toBe(true);
    expect(entryMatches({ ins: '20', sw: '9000' }, e)).toBe(false);
    expect(entryMatches({ sw: 'xxxx' }, { ...e, response: new Uint8Array(0) })).toBe(false);
  });
});

describe('trace expectations', () => {
  const trace = [
    entry('00A4040C0AD392F000260100000001', '9000'),
    entry('002000800431323334', '63C1'),
    entry('00200080', '63C1'),
    entry('002000800431323334', '63C0'),
  ];

  it('contains / never', () => {
    expect(checkTrace({ contains: { ins: '20', sw: '63C0' } }, trace)).toMatchObject({ passed: true, actual: '#4 00 20 00 80 <redacted> (VERIFY) → 63C0' });
    expect(checkTrace({ contains: { ins: '2A' } }, trace)).toMatchObject({ passed: false, expected: 'INS 2A', actual: 'none of 4 exchanges matches' });
    expect(checkTrace({ never: { ins: '2A' } }, trace).passed).toBe(true);
    expect(checkTrace({ never: { ins: '20', data: false } }, trace)).toMatchObject({
      passed: false,
      expected: 'no INS 20 without data',
      actual: '#3 00 20 00 80 (VERIFY) → 63C1',
    });
  });

  it('inOrder', () => {
    expect(checkTrace({ inOrder: [{ ins: 'A4' }, { ins: '20', data: false }] }, trace)).toMatchObject({ passed: true, actual: 'in order at #1, #3' });
    expect(checkTrace({ inOrder: [{ ins: '20', data: false }, { ins: 'A4' }] }, trace)).toMatchObject({
      passed: false,
      actual: 'matched 1 of 2; no INS A4 after #3 00 20 00 80 (VERIFY) → 63C1',
    });
  });

  it('count with bounds', () => {
    expect(checkTrace({ count: { ins: '20', data: true }, min: 2, max: 2 }, trace)).toMatchObject({ passed: true, actual: '2' });
    expect(checkTrace({ count: { ins: '20', data: true }, max: 1 }, trace)).toMatchObject({
      passed: false,
      expected: 'at most 1 × INS 20 with data',
      actual: '2',
    });
    expect(checkTrace({ count: { ins: '20' }, min: 4 }, trace)).toMatchObject({ passed: false, actual: '3' });
  });

  it('noneAfter: no VERIFY with data after a 63 C1 query', () => {
    // biome-ignore lint/suspicious/noThenProperty: the model's field (harness/scenario/model.ts) is named `then`; a non-function `then` is not thenable
    const rule = { noneAfter: { after: { ins: '20', data: false, sw: '63C1' }, then: { ins: '20', data: true } } };
    expect(checkTrace(rule, trace)).toMatchObject({
      passed: false,
      actual: '#4 00 20 00 80 <redacted> (VERIFY) → 63C0 after #3 00 20 00 80 (VERIFY) → 63C1',
    });
    expect(checkTrace(rule, trace.slice(0, 3)).passed).toBe(true);
    expect(checkTrace(rule, trace.slice(0, 2))).toMatchObject({ passed: true, actual: 'no INS 20 without data SW 63C1 in 2 exchanges' });
  });
});

describe('text, counters, durations', () => {
  it('one check per text item', () => {
    const checks = checkText('stdout', { contains: ['残り1回', 'x'], notContains: ['PIN='], matches: '残り\\d回' }, 'line 1\n残り1回\n');
    expect(checks.map((c) => [c.what, c.passed])).toEqual([
      ['stdout contains', true],
      ['stdout contains', false],
      ['stdout does not contain', true],
      ['stdout matches', true],
    ]);
    expect(checkText('stderr', { notContains: ['PIN='] }, 'a\nb PIN=<pin:auth>\n')[0]).toMatchObject({
      passed: false,
      actual: 'found in line 2: b PIN=<pin:auth>',
    });
    expect(checkText('stdout', { contains: ['x'] }, '')[0].actual).toBe('(empty)');
  });

  it('counters per PIN and field', () => {
    const pins = { auth: { triesLeft: 0, max: 3, locked: true } };
    expect(checkCard({ auth: { triesLeft: 0, locked: true }, sign: { triesLeft: 5 } }, pins).map((c) => [c.what, c.passed, c.actual])).toEqual([
      ['card auth tries left', true, '0'],
      ['card auth locked', true, 'locked'],
      ['card sign tries left', false, 'unknown'],
    ]);
  });

  it('duration bounds', () => {
    expect(checkDuration({ min: 10, max: 20 }, 15).every((c) => c.passed)).toBe(true);
    expect(checkDuration({ min: 10, max: 20 }, 25).map((c) => c.passed)).toEqual([true, false]);
  });
});
