/**
 * Text helpers every reporter shares: cleaning text that came from clients or scenario files before it
 * reaches a terminal or an XML file, and the few phrases (durations, an APDU line, an expectation, the
 * summary) that must read the same in every report.
 */
import type { ScenarioStatus } from '../runner/events.ts';
import type { ApduEvent, ExpectationEvent } from './collect.ts';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../simulator/fs/atomic.ts';

/**
 * Terminal escape sequences: CSI (`ESC [ … final`, and the 8-bit CSI 0x9B), OSC (`ESC ] … BEL|ST`),
 * DCS/SOS/PM/APC strings, and the two-byte ESC sequences. A client's colours or cursor moves must not
 * repaint our terminal nor end up in a CI report.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const ANSI = /\u001B(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001B]*(?:\u0007|\u001B\\)?|[PX^_][^\u001B]*(?:\u001B\\)?|[ -/]*[0-~])|\u009B[0-?]*[ -/]*[@-~]/g;

/**
 * What no report keeps: C0 controls but tab and line feed (XML 1.0 forbids most of them; CR and BS
 * rewrite a terminal line), DEL and C1 controls (0x9B starts a terminal sequence), lone UTF-16
 * surrogates and U+FFFE/U+FFFF (not XML characters). Under the `u` flag a surrogate pair is one code
 * point, so only lone halves match.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNPRINTABLE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\uFFFE\uFFFF]|[\uD800-\uDFFF]/gu;

/** Text with escape sequences and unprintable characters removed; tabs and line feeds kept. */
export function cleanText(text: string): string {
  return text.replace(ANSI, '').replace(UNPRINTABLE, '');
}

/** cleanText on one line: tabs and line feeds become spaces (a name must not break a report's line). */
export function cleanLine(text: string): string {
  return cleanText(text).replace(/[\t\n]/g, ' ');
}

/** `850 ms`, `1.25 s`: milliseconds below a second, seconds with two decimals above. */
export function formatDuration(ms: number): string {
  const safe = Number.isFinite(ms) && ms > 0 ? ms : 0;
  return safe < 1000 ? `${Math.round(safe)} ms` : `${(safe / 1000).toFixed(2)} s`;
}

/** `> 00 A4 04 0C 0A D3 .. (SELECT) < 9000, 0 bytes, 1 ms`: the command is already redacted in the event. */
export function apduText(e: ApduEvent): string {
  return `> ${e.command} (${e.name}) < ${e.sw}, ${e.responseBytes} bytes, ${formatDuration(e.ms)}`;
}

/** `file:line:col: what: expected X, got Y`, the shape of every failure message (console and JUnit). */
export function expectationText(e: ExpectationEvent): string {
  const head = `${e.where}: ${e.what}`;
  if (e.expected === undefined && e.actual === undefined) return head;
  if (e.actual === undefined) return `${head}: expected ${e.expected}`;
  if (e.expected === undefined) return `${head}: got ${e.actual}`;
  return `${head}: expected ${e.expected}, got ${e.actual}`;
}

/**
 * The kind of an expectation, for JUnit's failure `type`: the first word of `what` (`exit`, `stdout`,
 * `trace`, `card`…), which the runner starts with the expectation's key; `expectation` when it has none.
 */
export function expectationKind(what: string): string {
  return /^[A-Za-z][\w-]*/.exec(what.trim())?.[0] ?? 'expectation';
}

/** `3 passed, 1 failed, 1 not applicable, 0 errors` (and `, 2 skipped` when some were). */
export function summaryText(counts: Record<ScenarioStatus, number>): string {
  const line = `${counts.passed} passed, ${counts.failed} failed, ${counts['not-applicable']} not applicable, ${counts.error} errors`;
  return counts.skipped > 0 ? `${line}, ${counts.skipped} skipped` : line;
}

// ---- XML and HTML escapes, and report files ----------------------------------------------------------

const TEXT_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };
/** Attributes also escape quotes, and tab and line feed as references (a parser turns raw ones into spaces). */
const ATTR_ESCAPES: Record<string, string> = { ...TEXT_ESCAPES, '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;' };

/** Cleaned element text; `>` escaped too, so `]]>` cannot appear. */
export function escapeText(text: string): string {
  return cleanText(text).replace(/[&<>]/g, (c) => TEXT_ESCAPES[c]!);
}

export function escapeAttr(text: string): string {
  return cleanText(text).replace(/[&<>"'\t\n]/g, (c) => ATTR_ESCAPES[c]!);
}

/**
 * Reports hold no secret (PINs are masked in the events) and a lab or CI shares them: readable by all,
 * 0644 exactly. Written atomically (a reader never sees half a report) into `outDir`, created if missing.
 */
export const REPORT_MODE = 0o644;

export function writeReport(outDir: string, name: string, contents: string): string {
  const path = join(outDir, name);
  mkdirSync(outDir, { recursive: true });
  writeFileAtomic(path, contents, { mode: REPORT_MODE });
  return path;
}
