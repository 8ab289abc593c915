/**
 * The matchers of a scenario's expectations (harness/scenario/model.ts): text, status words with `x`
 * wildcards, PIN counters, the APDU trace and durations. Each check returns what was expected and what
 * was seen as short strings, which the runner puts in an `expectation` event (after masking PIN values).
 * Commands are shown redacted (simulator/apdu/trace.ts), so a trace check never prints PIN data.
 */
import { swHex } from '../../simulator/apdu/sw.ts';
import { InputError } from '../../simulator/errors.ts';
import { commandName, redactCommand } from '../../simulator/apdu/trace.ts';
import type { ApduPattern, CardExpect, PinKind, TextMatch, TraceExpect } from '../scenario/model.ts';
import type { PinCounters } from './events.ts';
import type { TraceEntry } from '../targets/target.ts';

/** One checked item: `what` names it in the event ("stdout contains", "trace never"). */
export interface Check {
  what: string;
  passed: boolean;
  expected: string;
  actual: string;
}

const SW_PATTERN = /^[0-9A-Fa-fXx]{4}$/;

/** True when `pattern` is 4 hex digits or `x` wildcards. */
export function isSwPattern(pattern: string): boolean {
  return SW_PATTERN.test(pattern);
}

/** Whether a status word matches `63Cx`-style patterns (case-insensitive; `x` matches any hex digit). */
export function swMatches(pattern: string, sw: number | undefined): boolean {
  if (sw === undefined || !isSwPattern(pattern)) return false;
  const actual = swHex(sw);
  for (let i = 0; i < 4; i++) {
    const p = pattern[i].toUpperCase();
    if (p !== 'X' && p !== actual[i]) return false;
  }
  return true;
}

/** The SW of a response, or undefined when it has fewer than 2 bytes (cut, or power lost). */
export function responseSw(response: Uint8Array): number | undefined {
  return response.length >= 2 ? (response[response.length - 2] << 8) | response[response.length - 1] : undefined;
}

/**
 * The data field of a command, read without the simulator's codec and without throwing (a scenario's
 * raw APDU may be malformed on purpose): short Lc, extended Lc (`00 Lc1 Lc2`), or none for cases 1/2.
 */
export function commandData(cmd: Uint8Array): Uint8Array {
  if (cmd.length <= 5) return new Uint8Array(0);
  if (cmd[4] !== 0) return cmd.subarray(5, 5 + cmd[4]);
  if (cmd.length <= 7) return new Uint8Array(0); // extended case 2: 00 Le1 Le2
  return cmd.subarray(7, 7 + ((cmd[5] << 8) | cmd[6]));
}

/**
 * Refuses a pattern that could never match (`ins: "2O"`, odd hex data, a 3-digit SW): a `never` with
 * such a pattern would pass whatever the client did. Names the field and the fix.
 */
export function assertPattern(p: ApduPattern, field: string): void {
  for (const k of ['cla', 'ins', 'p1', 'p2'] as const) {
    const v = p[k];
    if (v !== undefined && !/^[0-9A-Fa-f]{2}$/.test(v)) throw new InputError(`${field}.${k}: "${v}" is not one byte; give 2 hex digits, e.g. "20"`);
  }
  if (typeof p.data === 'string' && !/^([0-9A-Fa-f]{2})*$/.test(p.data.replace(/\s/g, '')))
    throw new InputError(`${field}.data: not hex bytes; give an even number of hex digits, or true / false`);
  if (p.sw !== undefined) assertSwPattern(p.sw, `${field}.sw`);
}

export function assertSwPattern(sw: string, field: string): void {
  if (!isSwPattern(sw)) throw new InputError(`${field}: "${sw}" is not a status word; give 4 hex digits, x for any digit, e.g. "63Cx"`);
}

/** The patterns of a trace expectation, with their field names. */
function patternsOf(x: TraceExpect): Array<[ApduPattern, string]> {
  if ('contains' in x) return [[x.contains, 'contains']];
  if ('never' in x) return [[x.never, 'never']];
  if ('inOrder' in x) return x.inOrder.map((p, i) => [p, `inOrder[${i}]`]);
  if ('count' in x) return [[x.count, 'count']];
  return [
    [x.noneAfter.after, 'noneAfter.after'],
    [x.noneAfter.then, 'noneAfter.then'],
  ];
}

const byteIs = (hex: string | undefined, b: number | undefined): boolean => hex === undefined || (b !== undefined && Number.parseInt(hex, 16) === b);

/** The command part of a pattern (everything but `sw`): used for injected status words too. */
export function commandMatches(p: ApduPattern, cmd: Uint8Array): boolean {
  if (!byteIs(p.cla, cmd[0]) || !byteIs(p.ins, cmd[1]) || !byteIs(p.p1, cmd[2]) || !byteIs(p.p2, cmd[3])) return false;
  if (p.data === undefined) return true;
  const data = commandData(cmd);
  if (typeof p.data === 'boolean') return p.data === data.length > 0;
  return Buffer.from(data).toString('hex').toUpperCase() === p.data.replace(/\s/g, '').toUpperCase();
}

export function entryMatches(p: ApduPattern, e: TraceEntry): boolean {
  return commandMatches(p, e.command) && (p.sw === undefined || swMatches(p.sw, responseSw(e.response)));
}

/** `INS 20 P2 80 with data, SW 63Cx`: a pattern in words for reports (hex data is never PIN data). */
export function describePattern(p: ApduPattern): string {
  const parts: string[] = [];
  for (const k of ['cla', 'ins', 'p1', 'p2'] as const) if (p[k] !== undefined) parts.push(`${k.toUpperCase()} ${p[k]!.toUpperCase()}`);
  if (p.data === true) parts.push('with data');
  else if (p.data === false) parts.push('without data');
  else if (p.data !== undefined) parts.push(`data ${p.data.toUpperCase()}`);
  if (p.sw !== undefined) parts.push(`SW ${p.sw.toUpperCase()}`);
  return parts.length ? parts.join(' ') : 'any command';
}

/** `#3 00 20 00 80 <redacted> (VERIFY) → 63C2`, numbered from 1 in the slice checked. */
export function describeEntry(e: TraceEntry, index: number): string {
  const sw = responseSw(e.response);
  return `#${index + 1} ${redactCommand(e.command)} (${commandName(e.command)}) → ${sw === undefined ? `${e.response.length} bytes, no status word` : swHex(sw)}`;
}

const firstMatch = (trace: TraceEntry[], p: ApduPattern, from = 0): number => {
  for (let i = from; i < trace.length; i++) if (entryMatches(p, trace[i])) return i;
  return -1;
};

const countMatches = (trace: TraceEntry[], p: ApduPattern): number => trace.filter((e) => entryMatches(p, e)).length;

/** One trace expectation over a whole trace (or a step's slice of it); a malformed pattern is an input error. */
export function checkTrace(x: TraceExpect, trace: TraceEntry[]): Check {
  for (const [p, field] of patternsOf(x)) assertPattern(p, `trace ${field}`);
  if ('contains' in x) {
    const i = firstMatch(trace, x.contains);
    return {
      what: 'trace contains',
      passed: i >= 0,
      expected: describePattern(x.contains),
      actual: i >= 0 ? describeEntry(trace[i], i) : `none of ${trace.length} exchanges matches`,
    };
  }
  if ('never' in x) {
    const i = firstMatch(trace, x.never);
    return {
      what: 'trace never',
      passed: i < 0,
      expected: `no ${describePattern(x.never)}`,
      actual: i < 0 ? `none of ${trace.length} exchanges` : describeEntry(trace[i], i),
    };
  }
  if ('inOrder' in x) return checkInOrder(x.inOrder, trace);
  if ('count' in x) {
    const n = countMatches(trace, x.count);
    const passed = (x.min === undefined || n >= x.min) && (x.max === undefined || n <= x.max);
    const bounds = [x.min !== undefined ? `at least ${x.min}` : '', x.max !== undefined ? `at most ${x.max}` : ''].filter(Boolean).join(' and ');
    return { what: 'trace count', passed, expected: `${bounds || 'any number of'} × ${describePattern(x.count)}`, actual: `${n}` };
  }
  return checkNoneAfter(x.noneAfter.after, x.noneAfter.then, trace);
}

function checkInOrder(patterns: ApduPattern[], trace: TraceEntry[]): Check {
  const expected = patterns.map(describePattern).join(', then ');
  let from = 0;
  const seen: string[] = [];
  for (const [k, p] of patterns.entries()) {
    const i = firstMatch(trace, p, from);
    if (i < 0) {
      const after = from > 0 ? ` after ${describeEntry(trace[from - 1], from - 1)}` : '';
      return { what: 'trace in order', passed: false, expected, actual: `matched ${k} of ${patterns.length}; no ${describePattern(p)}${after}` };
    }
    seen.push(`#${i + 1}`);
    from = i + 1;
  }
  return { what: 'trace in order', passed: true, expected, actual: `in order at ${seen.join(', ')}` };
}

function checkNoneAfter(after: ApduPattern, then: ApduPattern, trace: TraceEntry[]): Check {
  const expected = `no ${describePattern(then)} after ${describePattern(after)}`;
  const a = firstMatch(trace, after);
  if (a < 0) return { what: 'trace none after', passed: true, expected, actual: `no ${describePattern(after)} in ${trace.length} exchanges` };
  const t = firstMatch(trace, then, a + 1);
  return {
    what: 'trace none after',
    passed: t < 0,
    expected,
    actual: t < 0 ? `nothing matching after ${describeEntry(trace[a], a)}` : `${describeEntry(trace[t], t)} after ${describeEntry(trace[a], a)}`,
  };
}

/** The end of a text, for an `actual` that stays short. */
function excerpt(text: string, max = 300): string {
  const t = text.trimEnd();
  if (t === '') return '(empty)';
  return t.length <= max ? t : `…${t.slice(t.length - max)}`;
}

/** One check per item of a TextMatch, on one stream (`stdout`, `stderr`). */
export function checkText(stream: string, m: TextMatch, text: string): Check[] {
  const out: Check[] = [];
  for (const s of m.contains ?? []) out.push({ what: `${stream} contains`, passed: text.includes(s), expected: s, actual: excerpt(text) });
  for (const s of m.notContains ?? []) {
    const at = text.indexOf(s);
    out.push({
      what: `${stream} does not contain`,
      passed: at < 0,
      expected: `not ${s}`,
      actual: at < 0 ? excerpt(text) : `found in line ${lineOf(text, at)}: ${lineAt(text, at)}`,
    });
  }
  if (m.matches !== undefined) {
    let re: RegExp;
    try {
      re = new RegExp(m.matches, 'u');
    } catch (err) {
      throw new InputError(`${stream}.matches: not a regular expression (${(err as Error).message}); fix the pattern (JavaScript syntax, u flag)`);
    }
    const hit = re.exec(text);
    out.push({ what: `${stream} matches`, passed: hit !== null, expected: `/${m.matches}/u`, actual: hit ? `matched "${hit[0]}"` : excerpt(text) });
  }
  return out;
}

const lineOf = (text: string, at: number): number => text.slice(0, at).split('\n').length;
const lineAt = (text: string, at: number): string => text.slice(text.lastIndexOf('\n', at - 1) + 1).split('\n')[0];

export function checkSw(pattern: string, sw: number | undefined, what = 'sw'): Check {
  assertSwPattern(pattern, what);
  return { what, passed: swMatches(pattern, sw), expected: pattern.toUpperCase(), actual: sw === undefined ? 'no status word' : swHex(sw) };
}

export function checkExit(expected: number, exit: number | null): Check {
  return { what: 'exit', passed: exit === expected, expected: String(expected), actual: exit === null ? 'killed (no exit code)' : String(exit) };
}

/** One check per field per PIN of a CardExpect. */
export function checkCard(x: CardExpect, pins: PinCounters): Check[] {
  const out: Check[] = [];
  for (const [kind, want] of Object.entries(x) as [PinKind, { triesLeft?: number; locked?: boolean }][]) {
    const have = pins[kind];
    if (want.triesLeft !== undefined)
      out.push({
        what: `card ${kind} tries left`,
        passed: have?.triesLeft === want.triesLeft,
        expected: String(want.triesLeft),
        actual: have ? String(have.triesLeft) : 'unknown',
      });
    if (want.locked !== undefined)
      out.push({
        what: `card ${kind} locked`,
        passed: have?.locked === want.locked,
        expected: want.locked ? 'locked' : 'not locked',
        actual: have ? (have.locked ? 'locked' : 'not locked') : 'unknown',
      });
  }
  return out;
}

export function checkDuration(bounds: { min?: number; max?: number }, ms: number): Check[] {
  const out: Check[] = [];
  const actual = `${Math.round(ms)} ms`;
  if (bounds.min !== undefined) out.push({ what: 'duration at least', passed: ms >= bounds.min, expected: `≥ ${bounds.min} ms`, actual });
  if (bounds.max !== undefined) out.push({ what: 'duration at most', passed: ms <= bounds.max, expected: `≤ ${bounds.max} ms`, actual });
  return out;
}
