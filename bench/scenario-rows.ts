/**
 * The scenario group's arithmetic and rows (bench/scenario.ts measures): from a run's events, each
 * stamped when the runner emitted it, and the client runs' own durations, the time the harness adds to
 * each scenario, and the table rows with the issue's targets. Pure functions.
 */
import type { RunEvent } from '../harness/runner/events.ts';
import type { Scenario } from '../harness/scenario/model.ts';
import { fmt, median, percentile } from './stats.ts';
import type { Row } from './table.ts';

export const SCENARIO_CMD = 'npm run bench -- --only scenario';

/** The targets for what the harness adds to one scenario (the client's own time excluded). */
export const LIMIT_MS = { sim: 100, vpcd: 1000 } as const;
export type HostedKind = keyof typeof LIMIT_MS;

/**
 * pcscd's presence-poll period (docs/pcsc-stack.md §5.1): on vpcd a removal is seen, and a card is
 * accepted, only at a poll. A scenario that removes or inserts the card asks for that wait, so its
 * limit grows by one period per removal or insertion; nothing else gets an allowance.
 */
export const PRESENCE_POLL_MS = 400;

/** How many times a scenario takes the card out of the reader or puts it back (its remove/insert events). */
export const presenceChanges = (s: Scenario): number =>
  s.steps.filter((st) => st.kind === 'event' && (st.event.type === 'remove' || st.event.type === 'insert')).length;

/** A scenario's limit on a target: the issue's, plus the presence polls its own events ask for on vpcd. */
export const limitFor = (kind: HostedKind, changes: number): number => LIMIT_MS[kind] + (kind === 'vpcd' ? changes * PRESENCE_POLL_MS : 0);

/** An event and when it was emitted (performance.now(), ms). */
export interface Stamped {
  at: number;
  event: RunEvent;
}

/**
 * The line a bench client prints with the time it measured itself (bench/fixtures/scenario/trivial-client.ts):
 * the driver's ClientRunResult.durationMs also holds the driver's own work (loading the module), which
 * is the harness's, not the client's.
 */
export const ownTimeLine = (ms: number): string => `client's own time: ${ms.toFixed(3)} ms`;
const OWN_TIME_RE = /^client's own time: (\d+(?:\.\d+)?) ms$/;

/** One client run: the scenario it belongs to and its duration as the driver measured it (ClientRunResult.durationMs). */
export interface ClientTime {
  scenario: string;
  ms: number;
}

/** One scenario of one run. All times in ms. */
export interface ScenarioTiming {
  name: string;
  status: string;
  /** Why it did not pass (the runner's message), for the table. */
  message?: string;
  /** The runner's own scenario-end durationMs: the scenario's wall time. */
  totalMs: number;
  /**
   * The sum of its clients' own time: what a client reported measuring itself ({@link ownTimeLine}),
   * else the driver's duration of the run.
   */
  clientMs: number;
  /** The drivers' durations minus what the clients reported (0 for a client that reports nothing): harness time. */
  driverMs: number;
  /** totalMs − clientMs: what the harness adds. */
  harnessMs: number;
  /** scenario-start → first step-start: the card made and, on vpcd, in the reader. */
  prepareMs: number;
  /** last step-end → scenario-end: the final expectations and the card closed. */
  finishMs: number;
}

/** The timing of every scenario that ran, in the order they ended. */
export function scenarioTimings(events: readonly Stamped[], clients: readonly ClientTime[]): ScenarioTiming[] {
  const out: ScenarioTiming[] = [];
  const open = new Map<string, { name: string; start: number; firstStep?: number; lastStepEnd?: number; ownMs?: number }>();
  for (const { at, event: e } of events) {
    if (e.type === 'scenario-start') open.set(e.scenario, { name: e.name, start: at });
    else if (e.type === 'output') {
      const s = open.get(e.scenario);
      const m = OWN_TIME_RE.exec(e.line);
      if (s && m) s.ownMs = (s.ownMs ?? 0) + Number(m[1]);
    } else if (e.type === 'step-start') {
      const s = open.get(e.scenario);
      if (s && s.firstStep === undefined) s.firstStep = at;
    } else if (e.type === 'step-end') {
      const s = open.get(e.scenario);
      if (s) s.lastStepEnd = at;
    } else if (e.type === 'scenario-end') {
      const s = open.get(e.scenario);
      if (!s) continue;
      open.delete(e.scenario);
      const driven = clients.filter((c) => c.scenario === e.scenario).reduce((a, c) => a + c.ms, 0);
      const clientMs = s.ownMs ?? driven;
      out.push({
        name: s.name,
        status: e.status,
        ...(e.message === undefined ? {} : { message: e.message }),
        totalMs: e.durationMs,
        clientMs,
        driverMs: s.ownMs === undefined ? 0 : driven - s.ownMs,
        harnessMs: e.durationMs - clientMs,
        prepareMs: (s.firstStep ?? at) - s.start,
        finishMs: s.lastStepEnd === undefined ? 0 : at - s.lastStepEnd,
      });
    }
  }
  return out;
}

/** Samples of each scenario by name, in the suite's order. */
export function byScenario(timings: readonly ScenarioTiming[]): Map<string, ScenarioTiming[]> {
  const m = new Map<string, ScenarioTiming[]>();
  for (const t of timings) m.set(t.name, [...(m.get(t.name) ?? []), t]);
  return m;
}

export const describeMs = (xs: number[]): string => `median ${fmtMs(median(xs))}, p90 ${fmtMs(percentile(xs, 90))} (N=${xs.length})`;
const fmtMs = (ms: number): string => (ms < 10 ? `${fmt(ms, 2)} ms` : `${fmt(ms, ms < 100 ? 1 : 0)} ms`);

/**
 * The rows of one target: per scenario, what the harness adds (target: its p90 under the issue's
 * limit, {@link limitFor}), the client's own time where there is one, and where the harness's time
 * goes (prepare, finish). `changes`: each scenario's removals and insertions, by name. A scenario that did not pass every time is a failed row: its times measure something else.
 */
export function targetRows(kind: HostedKind, timings: readonly ScenarioTiming[], changes: ReadonlyMap<string, number> = new Map()): Row[] {
  const rows: Row[] = [];
  for (const [name, ts] of byScenario(timings)) {
    const n = changes.get(name) ?? 0;
    const limit = limitFor(kind, n);
    const allowance =
      limit === LIMIT_MS[kind] ? '' : ` (${fmt(LIMIT_MS[kind])} + ${n} × ${PRESENCE_POLL_MS} ms presence polls for its ${n} removals/insertions)`;
    const bad = ts.find((t) => t.status !== 'passed');
    if (bad) {
      rows.push({
        what: `${kind}: “${name}”`,
        value: `**${bad.status}** in ${ts.filter((t) => t.status !== 'passed').length} of ${ts.length} runs: ${bad.message ?? ''}`.trim(),
        target: 'passes every run',
        pass: false,
        command: SCENARIO_CMD,
      });
      continue;
    }
    const harness = ts.map((t) => t.harnessMs);
    const withClient = ts.some((t) => t.clientMs > 0);
    const reported = ts.some((t) => t.driverMs > 0);
    rows.push({
      what: `${kind}: “${name}”, harness time (scenario wall time${withClient ? ' − the client’s own time' : ''})`,
      value: describeMs(harness),
      target: `p90 < ${fmt(limit)} ms${allowance}`,
      pass: percentile(harness, 90) < limit,
      command: SCENARIO_CMD,
    });
    if (withClient)
      rows.push({
        what: reported
          ? '… same, the client’s own time (as it measured itself; subtracted above) / the driver’s time around it (counted as harness) / the scenario’s wall time'
          : '… same, the client’s own time (the driver’s duration; subtracted above) / the scenario’s wall time',
        value: [ts.map((t) => t.clientMs), ...(reported ? [ts.map((t) => t.driverMs)] : []), ts.map((t) => t.totalMs)].map(describeMs).join(' / '),
        target: '(reference)',
        pass: true,
        command: SCENARIO_CMD,
      });
    rows.push({
      what: `… same, of the harness time: card prepared (scenario start → first step) / final checks + card closed (last step → scenario end)`,
      value: `${describeMs(ts.map((t) => t.prepareMs))} / ${describeMs(ts.map((t) => t.finishMs))}`,
      target: '(where it goes)',
      pass: true,
      command: SCENARIO_CMD,
    });
  }
  return rows;
}

/** A target whose runs could not be measured (its check failed, a deadline passed): a missed target, with why. */
export function failedRow(kind: HostedKind, message: string): Row {
  return { what: `${kind}: the bench suite’s scenarios`, value: `**not measured**: ${message}`, target: 'runs', pass: false, command: SCENARIO_CMD };
}
