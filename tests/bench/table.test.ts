/**
 * `npm run bench`'s table: a group that could not run (the PC/SC group without pcscd) is reported as
 * skipped, never as a met target, and it does not fail the run.
 */
import { describe, expect, it } from 'vitest';
import * as table from '../../bench/table.ts';
import type { Row } from '../../bench/table.ts';

const { formatResults } = table;
const measured = (pass: boolean): Row => ({ what: 'VERIFY', value: '1 µs', target: '< 2 µs', pass, command: 'npm run bench' });
/** A skipped row, even one that claims its target was met, is not a met target. */
const pcscSkipped: Row = {
  what: 'PC/SC group (pcscd + vpcd)',
  value: 'not measured: pcscd is not running',
  target: 'needs pcscd: `bash scripts/pcsc-stack.sh start`',
  pass: true,
  skipped: true,
  command: 'npm run bench -- --only pcsc',
};

describe('bench result table', () => {
  it('prints a skipped group as "skipped" in the ok column, not "yes"', () => {
    const { lines } = formatResults([measured(true), pcscSkipped]);
    expect(lines[2]).toBe('| VERIFY | 1 µs | < 2 µs | yes |');
    expect(lines[3]).toBe('| PC/SC group (pcscd + vpcd) | not measured: pcscd is not running | needs pcscd: `bash scripts/pcsc-stack.sh start` | skipped |');
  });

  it('names the skipped rows under the table and does not fail the run for them', () => {
    const { lines, failed } = formatResults([measured(true), pcscSkipped]);
    expect(failed).toBe(false);
    expect(lines.slice(-2)).toEqual(['', '1 row(s) skipped, not measured: PC/SC group (pcscd + vpcd)']);
  });

  it('a missed target still fails the run, next to a skipped group', () => {
    const { lines, failed } = formatResults([measured(false), pcscSkipped]);
    expect(failed).toBe(true);
    expect(lines[2]).toBe('| VERIFY | 1 µs | < 2 µs | **no** |');
    expect(lines.slice(-3)).toEqual(['', '1 target(s) missed', '1 row(s) skipped, not measured: PC/SC group (pcscd + vpcd)']);
  });

  it('skippedRow (what the PC/SC group returns without pcscd) builds such a row', () => {
    const row = table.skippedRow(
      'PC/SC group (pcscd + vpcd)',
      'pcscd is not running',
      'needs pcscd: `bash scripts/pcsc-stack.sh start`',
      'npm run bench -- --only pcsc',
    );
    expect(formatResults([row]).lines[2]).toBe(
      '| PC/SC group (pcscd + vpcd) | not measured: pcscd is not running | needs pcscd: `bash scripts/pcsc-stack.sh start` | skipped |',
    );
  });

  it('a run with every target met and nothing skipped ends with the table', () => {
    const { lines, failed } = formatResults([measured(true)]);
    expect(failed).toBe(false);
    expect(lines).toHaveLength(3);
  });
});
