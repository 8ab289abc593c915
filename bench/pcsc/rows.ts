/**
 * The rows of the PC/SC group: measurements turned into table rows (bench/table.ts) with their
 * targets and the command behind each. Pure functions: no process, no pcscd.
 */
import { fmt, median, percentile } from '../stats.ts';
import type { Row } from '../table.ts';

export const GROUP_CMD = 'npm run bench -- --only pcsc';

/** What a row needs of a probe: its samples (µs) and how its card was started. */
export interface Measured {
  samples: number[];
  ins: { command: string; quickAckUnavailable?: string };
}

/** µs below 10 ms, ms (one decimal) above: the stalled round trips are about 44 ms. */
export function fmtUs(us: number): string {
  return us >= 10_000 ? `${fmt(us / 1000, 1)} ms` : `${fmt(us)} µs`;
}

export const describeRtt = (us: number[]): string => `median ${fmtUs(median(us))}, p99 ${fmtUs(percentile(us, 99))} (N=${us.length})`;

const cardOf = (p: Measured) => `\`${p.ins.command}\``;
/** A label must not claim the card-side fix when it was unavailable. */
const note = (p: Measured) => (p.ins.quickAckUnavailable ? ` **(fix unavailable: ${p.ins.quickAckUnavailable})**` : '');

/** One probe's round trips: median and p99. */
export function rttRow(what: string, p: Measured, target = '(reference)', pass = true): Row {
  return { what, value: describeRtt(p.samples) + note(p), target, pass, command: `${GROUP_CMD} (card: ${cardOf(p)})` };
}

/** The ratio of two probes' medians (same run), passing when it is at most `limit`. */
export function ratioRow(what: string, a: Measured, b: Measured, target = '(reference)', limit = Infinity): Row {
  const r = median(a.samples) / median(b.samples);
  const shown = r < 0.1 ? `${fmt(r, 4)}× (1/${fmt(1 / r)})` : `${fmt(r, 2)}×`;
  return {
    what,
    value: `${shown}: ${fmtUs(median(a.samples))} / ${fmtUs(median(b.samples))}`,
    target,
    pass: r <= limit,
    command: `${GROUP_CMD} (cards: ${cardOf(a)}; ${cardOf(b)})`,
  };
}

/** `serve` spawned → PRESENT, split by the serve process's own lines; each array has one entry per run (ms). */
export interface ServeTimes {
  total: number[];
  up: number[];
  upToVisible: number[];
  visibleToPresent: number[];
}

export const SERVE_CMD = 'node bin/myna-hil.mjs serve --card <profile.json> --slot 0 --control <tmp>/ctl.sock';

const medianMax = (xs: number[], d = 0) => `median ${fmt(median(xs), d)} ms, max ${fmt(Math.max(...xs), d)} ms`;

export function serveRows(t: ServeTimes): Row[] {
  const totalOk = median(t.total) < 1000 && Math.max(...t.total) < 1000;
  return [
    {
      what: `\`serve\` spawned → reader PRESENT at a watching client (${t.total.length} runs, random gaps)`,
      value: medianMax(t.total),
      target: '< 1000 ms (median and max)',
      pass: totalOk,
      command: `${GROUP_CMD} — \`${SERVE_CMD}\``,
    },
    {
      what: '… of which: spawn → process up (its "serving" line: Node start, bundle load, card built from the profile)',
      value: medianMax(t.up),
      target: '(reference)',
      pass: true,
      command: GROUP_CMD,
    },
    {
      what: '… process up → its "card visible" line (vpcd takes the card at its next poll, every 400 ms)',
      value: medianMax(t.upToVisible),
      target: '(reference: 0-400 ms)',
      pass: true,
      command: GROUP_CMD,
    },
    {
      what: '… "card visible" → PRESENT at the client (pcscd powers the card up and reports it)',
      value: medianMax(t.visibleToPresent, 1),
      target: '(reference)',
      pass: true,
      command: GROUP_CMD,
    },
  ];
}

export function loadRow(start: string, end: string): Row {
  return {
    what: 'load average (1/5/15 min) at the start / end of the PC/SC group',
    value: `${start} / ${end}`,
    target: '(2 cores, shared with other engineers)',
    pass: true,
    command: 'cat /proc/loadavg',
  };
}

export function failedRow(message: string): Row {
  return { what: 'PC/SC group (pcscd + vpcd)', value: `**failed**: ${message}`, target: 'completes', pass: false, command: GROUP_CMD };
}

/** The rows with the command behind each, as markdown for bench/RESULTS.md (run.ts's table has no command column). */
export function rowsWithCommands(rows: Row[]): string[] {
  const cell = (t: string) => t.replaceAll('|', '\\|');
  return [
    '| what | measured | target | ok | command |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${cell(r.what)} | ${cell(r.value)} | ${cell(r.target)} | ${r.pass ? 'yes' : '**no**'} | ${cell(r.command)} |`),
  ];
}
