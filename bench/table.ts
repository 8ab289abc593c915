/** The benchmarks' result rows and the markdown table `npm run bench` prints. */
export interface Row {
  what: string;
  value: string;
  target: string;
  /** The target was met (ignored for a skipped row). */
  pass: boolean;
  command: string;
  /** Not measured (e.g. the PC/SC group without pcscd): shown as "skipped", never as a met target. */
  skipped?: boolean;
}

/** The row of a group that could not run: why, and what it needs. */
export function skippedRow(what: string, reason: string, needs: string, command: string): Row {
  return { what, value: `not measured: ${reason}`, target: needs, pass: false, skipped: true, command };
}

const okCell = (r: Row) => (r.skipped ? 'skipped' : r.pass ? 'yes' : '**no**');

/**
 * The table (markdown lines) and the summary under it. `failed`: a target was missed (the run exits 1);
 * skipped rows are named under the table but do not fail the run.
 */
export function formatResults(rows: Row[]): { lines: string[]; failed: boolean } {
  const lines = ['| what | measured | target | ok |', '|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.what} | ${r.value} | ${r.target} | ${okCell(r)} |`);
  const missed = rows.filter((r) => !r.skipped && !r.pass);
  const skipped = rows.filter((r) => r.skipped);
  if (missed.length || skipped.length) lines.push('');
  if (missed.length) lines.push(`${missed.length} target(s) missed`);
  if (skipped.length) lines.push(`${skipped.length} row(s) skipped, not measured: ${skipped.map((r) => r.what).join('; ')}`);
  return { lines, failed: missed.length > 0 };
}
