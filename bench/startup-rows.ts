/**
 * The rows of the start-up group: the prebuilt CLI (dist/) against the run-time bundle
 * (bin/launch.mjs), each new measurement with the target new ≤ 1.1× old. Pure functions.
 */
import { fmt, median, percentile } from './stats.ts';
import type { Row } from './table.ts';

export const STARTUP_CMD = 'npm run bench -- --only startup';
/** The change must lose nothing: the new way may be at most this much slower or bigger than the old one. */
export const LIMIT = 1.1;

export const NEW_CLI = 'node bin/myna-hil.mjs';
export const OLD_CLI = 'node bin/run-ts.mjs harness/cli/main.ts';

/** Samples of one quantity, the new way and the old way, taken in the same interleaved run. */
export interface Pair {
  new: number[];
  old: number[];
}

export interface StartupSamples {
  /** Wall time of `serve --help`, spawn to exit (ms). */
  helpMs: Pair;
  /** Peak RSS (VmHWM) of `serve --help` (kB). */
  helpKb: Pair;
  /** Peak RSS (VmHWM) of a process serving a card (kB); undefined when it could not be measured. */
  serveKb?: Pair;
}

const ms = (xs: number[]) => `median ${fmt(median(xs))} ms, p90 ${fmt(percentile(xs, 90))} ms (N=${xs.length})`;
const mb = (xs: number[]) => `median ${fmt(median(xs) / 1024, 1)} MB, max ${fmt(Math.max(...xs) / 1024, 1)} MB (N=${xs.length})`;

/** Two rows: the new way against its target (median ≤ 1.1× the old median), then the old way. */
function pairRows(what: string, command: string, p: Pair, show: (xs: number[]) => string): Row[] {
  const r = median(p.new) / median(p.old);
  return [
    {
      what: `${what}, **new**: \`${NEW_CLI}\` (prebuilt dist/)`,
      value: `${show(p.new)}; ${fmt(r, 2)}× the old median`,
      target: `median ≤ ${LIMIT}× old`,
      pass: r <= LIMIT,
      command: `${STARTUP_CMD} — \`${NEW_CLI} ${command}\``,
    },
    {
      what: `… same, **old**: \`${OLD_CLI}\` (bin/launch.mjs, warm cache)`,
      value: show(p.old),
      target: '(reference)',
      pass: true,
      command: `${STARTUP_CMD} — \`${OLD_CLI} ${command}\``,
    },
  ];
}

export function startupRows(s: StartupSamples, load: { start: string; end: string }): Row[] {
  const rows = [
    ...pairRows('`serve --help` wall time, spawn → exit, interleaved', 'serve --help', s.helpMs, ms),
    ...pairRows('`serve --help` peak RSS (VmHWM, `/usr/bin/time -f %M`)', 'serve --help', s.helpKb, mb),
  ];
  if (s.serveKb)
    rows.push(
      ...pairRows(
        'peak RSS (VmHWM) of a process serving a card (reversed mode, nothing connects)',
        'serve --card <profile.json> --reversed --vpcd-port <free>',
        s.serveKb,
        mb,
      ),
    );
  rows.push({
    what: 'load average (1/5/15 min) at the start / end of the start-up group',
    value: `${load.start} / ${load.end}`,
    target: '(2 cores, shared with other engineers)',
    pass: true,
    command: 'cat /proc/loadavg',
  });
  return rows;
}
