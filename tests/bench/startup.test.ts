/**
 * The start-up group (bench/startup.ts, bench/startup-rows.ts): the prebuilt CLI against the
 * run-time bundle, target new ≤ 1.1× old, both ways measured in alternating order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { interleave } from '../../bench/startup.ts';
import { LIMIT, startupRows } from '../../bench/startup-rows.ts';

const load = { start: '1.00 2.00 3.00', end: '1.50 2.00 3.00' };
const same = { new: [100], old: [100] };

describe('start-up rows', () => {
  it('gives new and old side by side: median, p90, N and the ratio, with the commands', () => {
    const helpMs = { new: [100, 110, 120, 130, 140, 150, 160, 170, 180, 190], old: [200, 200, 200, 200, 200, 200, 200, 200, 200, 300] };
    const rows = startupRows({ helpMs, helpKb: { new: [61_440], old: [71_680] } }, load);
    expect(rows.map((r) => [r.what, r.value, r.target, r.pass])).toEqual([
      [
        '`serve --help` wall time, spawn → exit, interleaved, **new**: `node bin/myna-hil.mjs` (prebuilt dist/)',
        'median 145 ms, p90 180 ms (N=10); 0.73× the old median',
        'median ≤ 1.1× old',
        true,
      ],
      ['… same, **old**: `node bin/run-ts.mjs harness/cli/main.ts` (bin/launch.mjs, warm cache)', 'median 200 ms, p90 200 ms (N=10)', '(reference)', true],
      [
        '`serve --help` peak RSS (VmHWM, `/usr/bin/time -f %M`), **new**: `node bin/myna-hil.mjs` (prebuilt dist/)',
        'median 60.0 MB, max 60.0 MB (N=1); 0.86× the old median',
        'median ≤ 1.1× old',
        true,
      ],
      ['… same, **old**: `node bin/run-ts.mjs harness/cli/main.ts` (bin/launch.mjs, warm cache)', 'median 70.0 MB, max 70.0 MB (N=1)', '(reference)', true],
      ['load average (1/5/15 min) at the start / end of the start-up group', '1.00 2.00 3.00 / 1.50 2.00 3.00', '(2 cores, shared with other engineers)', true],
    ]);
    expect(rows[0].command).toBe('npm run bench -- --only startup — `node bin/myna-hil.mjs serve --help`');
    expect(rows[1].command).toBe('npm run bench -- --only startup — `node bin/run-ts.mjs harness/cli/main.ts serve --help`');
  });

  it('adds the serving-process rows when they were measured', () => {
    const rows = startupRows({ helpMs: same, helpKb: same, serveKb: { new: [80_000], old: [70_000] } }, load);
    expect(rows[4].what).toBe(
      'peak RSS (VmHWM) of a process serving a card (reversed mode, nothing connects), **new**: `node bin/myna-hil.mjs` (prebuilt dist/)',
    );
    expect(rows[4].pass).toBe(false); // 1.14× the old
  });

  it('each new row passes exactly when its median is at most 1.1× the old median', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10_000 }), (n, o) => {
        const [time, , rss] = startupRows({ helpMs: { new: [n], old: [o] }, helpKb: { new: [n], old: [o] } }, load);
        expect(time.pass).toBe(n / o <= LIMIT);
        expect(rss.pass).toBe(n / o <= LIMIT);
      }),
    );
  });
});

describe('interleave', () => {
  it('measures both ways each round, the order alternating, so load falls on both alike', async () => {
    const order: string[] = [];
    const pair = await interleave(4, (way) => {
      order.push(way);
      return order.length;
    });
    expect(order).toEqual(['new', 'old', 'old', 'new', 'new', 'old', 'old', 'new']);
    expect(pair).toEqual({ new: [1, 4, 5, 8], old: [2, 3, 6, 7] });
  });
});
