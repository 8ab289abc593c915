/**
 * The scenario group (bench/scenario.ts, bench/scenario-rows.ts): the harness's time per scenario is
 * the runner's scenario duration minus its own clients' time, the rows hold the issue's targets (a
 * removal or insertion on vpcd allowed one pcscd presence poll each), a scenario that did not pass is
 * never a met target, and without pcscd the vpcd rows are skipped. The bench suite runs on sim here.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../harness/runner/events.ts';
import { benchSuite, runOnce, vpcdRows } from '../../bench/scenario.ts';
import {
  failedRow,
  LIMIT_MS,
  limitFor,
  ownTimeLine,
  presenceChanges,
  SCENARIO_CMD,
  type ScenarioTiming,
  scenarioTimings,
  type Stamped,
  targetRows,
} from '../../bench/scenario-rows.ts';
import { percentile } from '../../bench/stats.ts';
import { formatResults } from '../../bench/table.ts';

const where = 'suite.yaml:1:1';
const start = (key: string, name: string): RunEvent => ({ type: 'scenario-start', scenario: key, file: 'suite.yaml', name, where });
const stepStart = (key: string, step: number): RunEvent => ({ type: 'step-start', scenario: key, step, kind: 'card', label: 'select jpki', where });
const stepEnd = (key: string, step: number, durationMs: number): RunEvent => ({ type: 'step-end', scenario: key, step, status: 'passed', durationMs });
const end = (key: string, durationMs: number, status: 'passed' | 'failed' = 'passed', message?: string): RunEvent => ({
  type: 'scenario-end',
  scenario: key,
  status,
  durationMs,
  ...(message ? { message } : {}),
});
const at = (ms: number, event: RunEvent): Stamped => ({ at: ms, event });

const timing = (name: string, harnessMs: number, over: Partial<ScenarioTiming> = {}): ScenarioTiming => ({
  name,
  status: 'passed',
  totalMs: harnessMs,
  clientMs: 0,
  driverMs: 0,
  harnessMs,
  prepareMs: 1,
  finishMs: 0.5,
  ...over,
});

describe('scenario timings from the run events', () => {
  const events: Stamped[] = [
    at(1000, start('s#0', 'card only')),
    at(1008, stepStart('s#0', 0)),
    at(1010, stepEnd('s#0', 0, 2)),
    at(1011, stepStart('s#0', 1)),
    at(1014, stepEnd('s#0', 1, 3)),
    at(1015, end('s#0', 15)),
    at(1020, start('s#1', 'with a client')),
    at(1027, stepStart('s#1', 0)),
    at(1060, stepEnd('s#1', 0, 33)),
    at(1062.5, end('s#1', 42.5)),
  ];

  it('subtracts only the scenario’s own clients, and splits prepare and finish at the steps', () => {
    const t = scenarioTimings(events, [{ scenario: 's#1', ms: 30 }]);
    expect(t).toEqual([
      { name: 'card only', status: 'passed', totalMs: 15, clientMs: 0, driverMs: 0, harnessMs: 15, prepareMs: 8, finishMs: 1 },
      { name: 'with a client', status: 'passed', totalMs: 42.5, clientMs: 30, driverMs: 0, harnessMs: 12.5, prepareMs: 7, finishMs: 2.5 },
    ]);
  });

  it('adds up several client runs of one scenario', () => {
    const t = scenarioTimings(events, [
      { scenario: 's#1', ms: 10 },
      { scenario: 's#1', ms: 12 },
    ]);
    expect(t[1].harnessMs).toBe(20.5);
  });

  it('a client that reports its own time has only that subtracted; the driver’s rest is harness time', () => {
    const line = (l: string): RunEvent => ({ type: 'output', scenario: 's#1', step: 0, stream: 'stdout', line: l });
    const withOwn = [...events.slice(0, 8), at(1059, line('select 9000')), at(1059, line(ownTimeLine(0.25))), ...events.slice(8)];
    const [, t] = scenarioTimings(withOwn, [{ scenario: 's#1', ms: 30 }]);
    expect(t).toMatchObject({ totalMs: 42.5, clientMs: 0.25, driverMs: 29.75, harnessMs: 42.25 });
    // only the exact line counts: another line with a number in it is the client's output, not its time
    const [, u] = scenarioTimings([...events.slice(0, 8), at(1059, line(`x ${ownTimeLine(0.25)}`)), ...events.slice(8)], [{ scenario: 's#1', ms: 30 }]);
    expect(u).toMatchObject({ clientMs: 30, driverMs: 0 });
  });

  it('a scenario without steps (not applicable, skipped) has all its time in prepare and none in finish', () => {
    const t = scenarioTimings([at(5, start('s#2', 'n/a')), at(6, end('s#2', 1, 'failed', 'why'))], []);
    expect(t).toEqual([{ name: 'n/a', status: 'failed', message: 'why', totalMs: 1, clientMs: 0, driverMs: 0, harnessMs: 1, prepareMs: 1, finishMs: 0 }]);
  });
});

describe('scenario rows', () => {
  it('a row per scenario with median and p90 of the harness time, against the issue’s limit', () => {
    const ts = [10, 20, 30, 40, 50, 60, 70, 80, 90, 95].map((ms) => timing('card only', ms));
    const [row, phases] = targetRows('sim', ts);
    expect(row).toEqual({
      what: 'sim: “card only”, harness time (scenario wall time)',
      value: 'median 55.0 ms, p90 90.0 ms (N=10)',
      target: 'p90 < 100 ms',
      pass: true,
      command: SCENARIO_CMD,
    });
    expect(phases.value).toBe('median 1.00 ms, p90 1.00 ms (N=10) / median 0.50 ms, p90 0.50 ms (N=10)');
    expect(targetRows('sim', [...ts, timing('card only', 100)])[0].pass).toBe(true); // p90 of 11 samples is the 10th, 95
    expect(targetRows('sim', [...ts, timing('card only', 100), timing('card only', 100)])[0].pass).toBe(false); // now 100: not under
    expect(targetRows('sim', [timing('x', 100)])[0].pass).toBe(false);
  });

  it('passes exactly when the p90 is under the limit (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 3000, noNaN: true }), { minLength: 1, maxLength: 40 }),
        fc.constantFrom('sim', 'vpcd' as const),
        (xs, kind) => {
          const [row] = targetRows(
            kind,
            xs.map((ms) => timing('s', ms)),
          );
          expect(row.pass).toBe(percentile(xs, 90) < LIMIT_MS[kind]);
        },
      ),
    );
  });

  it('a scenario with a client shows the client’s own time and the wall time as well', () => {
    const rows = targetRows('vpcd', [timing('trivial', 800, { clientMs: 30, totalMs: 830 })]);
    const reported = targetRows('vpcd', [timing('trivial', 800, { clientMs: 0.5, driverMs: 12, totalMs: 812 })]);
    expect(reported[1].what).toBe(
      '… same, the client’s own time (as it measured itself; subtracted above) / the driver’s time around it (counted as harness) / the scenario’s wall time',
    );
    expect(reported[1].value).toBe('median 0.50 ms, p90 0.50 ms (N=1) / median 12.0 ms, p90 12.0 ms (N=1) / median 812 ms, p90 812 ms (N=1)');
    expect(rows.map((r) => r.what)).toEqual([
      'vpcd: “trivial”, harness time (scenario wall time − the client’s own time)',
      '… same, the client’s own time (the driver’s duration; subtracted above) / the scenario’s wall time',
      '… same, of the harness time: card prepared (scenario start → first step) / final checks + card closed (last step → scenario end)',
    ]);
    expect(rows[1].value).toBe('median 30.0 ms, p90 30.0 ms (N=1) / median 830 ms, p90 830 ms (N=1)');
    expect(rows[0].target).toBe('p90 < 1,000 ms');
  });

  it('on vpcd a removal and an insertion each add one presence poll to the limit, on sim nothing', () => {
    expect(limitFor('vpcd', 2)).toBe(1800);
    expect(limitFor('sim', 2)).toBe(100);
    const ts = [timing('reinsert', 1600)];
    const [row] = targetRows('vpcd', ts, new Map([['reinsert', 2]]));
    expect(row.target).toBe('p90 < 1,800 ms (1,000 + 2 × 400 ms presence polls for its 2 removals/insertions)');
    expect(row.pass).toBe(true);
    expect(targetRows('vpcd', ts)[0].pass).toBe(false);
  });

  it('a scenario that did not pass in some run is a missed target with the runner’s message, not a time', () => {
    const ts = [timing('s', 5), timing('s', 5, { status: 'failed', message: 'sw: expected 9000, got 6A82' })];
    const rows = targetRows('sim', ts);
    expect(rows).toEqual([
      { what: 'sim: “s”', value: '**failed** in 1 of 2 runs: sw: expected 9000, got 6A82', target: 'passes every run', pass: false, command: SCENARIO_CMD },
    ]);
    expect(formatResults(rows).failed).toBe(true);
  });

  it('a target that could not be measured is a missed target with the reason', () => {
    const row = failedRow('vpcd', 'target vpcd cannot run (exit code 3)');
    expect(row).toEqual({
      what: 'vpcd: the bench suite’s scenarios',
      value: '**not measured**: target vpcd cannot run (exit code 3)',
      target: 'runs',
      pass: false,
      command: SCENARIO_CMD,
    });
    expect(formatResults([row]).failed).toBe(true);
  });
});

describe('the bench suite', () => {
  const suite = benchSuite();

  it('counts the removals and insertions of each scenario', () => {
    expect(suite.scenarios.map((s) => [s.name, presenceChanges(s)])).toEqual([
      ['card actions only (select, query, verify, read, sign)', 0],
      ['a trivial module client (one SELECT)', 0],
      ['the card removed and inserted, then a query', 2],
    ]);
  });

  it('runs on sim: every scenario passes, only the client scenario has client time, as the client measured it', async () => {
    const t = await runOnce('sim', suite);
    expect(t.map((x) => [x.status, x.clientMs > 0, x.driverMs > 0])).toEqual([
      ['passed', false, false],
      ['passed', true, true],
      ['passed', false, false],
    ]);
    for (const x of t) {
      expect(x.harnessMs).toBeCloseTo(x.totalMs - x.clientMs, 6);
      expect(x.prepareMs + x.finishMs).toBeLessThanOrEqual(x.totalMs);
    }
  });

  it('without pcscd the vpcd rows are one skipped row, never a met target', async () => {
    const logged: string[] = [];
    const rows = await vpcdRows(suite, (s) => logged.push(s), { available: false, reason: 'pcscd is not running (/run/pcscd/pcscd.comm is not a socket)' });
    expect(rows).toEqual([
      {
        what: 'vpcd: the bench suite’s scenarios',
        value: 'not measured: pcscd is not running (/run/pcscd/pcscd.comm is not a socket)',
        target: 'needs pcscd: `bash scripts/pcsc-stack.sh start`',
        pass: false,
        skipped: true,
        command: SCENARIO_CMD,
      },
    ]);
    expect(formatResults(rows)).toEqual({
      lines: expect.arrayContaining(['1 row(s) skipped, not measured: vpcd: the bench suite’s scenarios']),
      failed: false,
    });
    expect(logged).toEqual(['scenario: vpcd skipped: pcscd is not running (/run/pcscd/pcscd.comm is not a socket)']);
  });
});
