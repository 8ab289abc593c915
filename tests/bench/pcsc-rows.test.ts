/**
 * The PC/SC group's rows (bench/pcsc/rows.ts): what a measurement becomes in the results table,
 * with its target, byte for byte, without pcscd.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeRtt, fmtUs, GROUP_CMD, ratioRow, rowsWithCommands, rttRow, serveRows } from '../../bench/pcsc/rows.ts';

const card = (samples: number[], quickAckUnavailable?: string) => ({
  samples,
  ins: { command: 'node bin/run-ts.mjs bench/pcsc-card.ts floor 1 on', quickAckUnavailable },
});

describe('PC/SC rows', () => {
  it('formats µs below 10 ms and ms with one decimal above (the 44 ms stall)', () => {
    expect(fmtUs(236.4)).toBe('236 µs');
    expect(fmtUs(3255)).toBe('3,255 µs');
    expect(fmtUs(44_312)).toBe('44.3 ms');
  });

  it('a round-trip row gives the median, p99 and N, and the command of the card', () => {
    const samples = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100 µs: median 50.5, p99 99
    expect(describeRtt(samples)).toBe('median 51 µs, p99 99 µs (N=100)');
    expect(rttRow('floor', card(samples), 'median < 250 µs', true)).toEqual({
      what: 'floor',
      value: 'median 51 µs, p99 99 µs (N=100)',
      target: 'median < 250 µs',
      pass: true,
      command: `${GROUP_CMD} (card: \`node bin/run-ts.mjs bench/pcsc-card.ts floor 1 on\`)`,
    });
  });

  it('says so when the card-side fix was asked for but unavailable', () => {
    expect(rttRow('ours', card([200], 'koffi is not installed')).value).toBe('median 200 µs, p99 200 µs (N=1) **(fix unavailable: koffi is not installed)**');
  });

  it('a ratio row shows both medians, and 1/x for small ratios', () => {
    expect(ratioRow('ours/floor', card([222]), card([237]), '≤ 1.5×', 1.5).value).toBe('0.94×: 222 µs / 237 µs');
    expect(ratioRow('ours/vicc', card([236]), card([44_300])).value).toBe('0.0053× (1/188): 236 µs / 44.3 ms');
  });

  it('a ratio row passes exactly when the ratio of the medians is within the limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 100_000 }), (a, b) => {
        expect(ratioRow('r', card([a]), card([b]), '≤ 1.5×', 1.5).pass).toBe(a / b <= 1.5);
      }),
    );
  });

  it('serve start-up: the target is < 1000 ms for the median and the max', () => {
    const t = { total: [480, 500, 520], up: [400, 410, 420], upToVisible: [10, 90, 370], visibleToPresent: [1.8, 2, 2.3] };
    const rows = serveRows(t);
    expect(rows.map((r) => r.value)).toEqual([
      'median 500 ms, max 520 ms',
      'median 410 ms, max 420 ms',
      'median 90 ms, max 370 ms',
      'median 2.0 ms, max 2.3 ms',
    ]);
    expect(rows[0].what).toBe('`serve` spawned → reader PRESENT at a watching client (3 runs, random gaps)');
    expect(rows[0].pass).toBe(true);
    expect(serveRows({ ...t, total: [480, 500, 1000] })[0].pass).toBe(false);
  });

  it('the markdown with commands escapes the pipes of a cell', () => {
    const lines = rowsWithCommands([{ what: 'a|b', value: '1', target: '-', pass: false, command: 'x | y' }]);
    expect(lines).toEqual(['| what | measured | target | ok | command |', '|---|---|---|---|---|', '| a\\|b | 1 | - | **no** | x \\| y |']);
  });
});
