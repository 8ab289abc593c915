/** The benchmarks' result rows and the markdown table `npm run bench` prints. */
export interface Row {
  what: string;
  value: string;
  target: string;
  pass: boolean;
  command: string;
}

/** The table (markdown lines) and the summary under it; `failed` says whether the run must exit 1. */
export function formatResults(rows: Row[]): { lines: string[]; failed: boolean } {
  const lines = ['| what | measured | target | ok |', '|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.what} | ${r.value} | ${r.target} | ${r.pass ? 'yes' : '**no**'} |`);
  const failed = rows.filter((r) => !r.pass);
  if (failed.length) lines.push('', `${failed.length} target(s) missed`);
  return { lines, failed: failed.length > 0 };
}
