/**
 * The replay's reports: console text, `replay.json` and `replay.html` (harness/reporters' escaping and
 * style). They show commands redacted and answers as length and status word only, as every report of
 * the project does: a PIN never appears (masked at capture), nor the card's data.
 */
import { escapeText, writeReport } from '../reporters/text.ts';
import { STYLE } from '../reporters/html.ts';
import type { Divergence, ReplayResult } from './replay.ts';

export const REPLAY_JSON = 'replay.json';
export const REPLAY_HTML = 'replay.html';

const answer = (a: Divergence['recorded']): string => `${a.bytes ? `${a.bytes} bytes ` : ''}${a.sw || '(no status word)'} (${a.swName})`;

function comparedNote(r: ReplayResult): string {
  return r.sameCard
    ? 'the same card as the profile: data compared byte for byte (signatures by verification, GET CHALLENGE by length)'
    : "another card than the profile's: EF data compared by length only, certificates by structure, signatures by verification";
}

export function replayText(r: ReplayResult): string {
  const lines = [`replay of ${r.session} on ${r.profile}: ${r.compared} answers compared; ${comparedNote(r)}`];
  const first = r.divergences[0];
  if (!first) lines.push('no divergence');
  else {
    lines.push(
      `FIRST DIVERGENCE at seq ${first.seq}${first.line ? ` (line ${first.line})` : ''}: ${first.name} ${first.command}`,
      `  recorded: ${answer(first.recorded)}`,
      `  replayed: ${answer(first.replayed)}`,
      `  why:      ${first.why}`,
      `  spec:     ${first.section}`,
    );
    if (r.divergences.length > 1) lines.push(`and ${r.divergences.length - 1} more divergence(s)`);
  }
  if (r.skipped.length) lines.push(`${r.skipped.length} command(s) not compared (answers the card did not give)`);
  for (const n of r.notReplayable) lines.push(`not replayable: seq ${n.seq} (line ${n.line}) ${n.command}: ${n.why}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  return `${lines.join('\n')}\n`;
}

export function replayJson(r: ReplayResult): string {
  return `${JSON.stringify({ format: 'myna-hil/replay', version: 1, ...r, firstDivergence: r.divergences[0] ?? null }, null, 2)}\n`;
}

/** The replay as an HTML section (embeddable) … */
export function replaySection(r: ReplayResult): string {
  const e = escapeText;
  const first = r.divergences[0];
  const rows = r.divergences
    .map(
      (d, i) =>
        `<tr${i === 0 ? ' class="fail"' : ''}><td class="num">${d.seq}</td><td class="hex">${e(d.command)}</td><td>${e(d.name)}</td><td>${e(answer(d.recorded))}</td><td>${e(answer(d.replayed))}</td><td>${e(d.why)}</td><td>${e(d.section)}</td></tr>`,
    )
    .join('\n');
  return [
    '<section class="replay">',
    `<h2>Replay of ${e(r.session)} on ${e(r.profile)}</h2>`,
    `<p>${r.compared} answers compared; ${e(comparedNote(r))}.</p>`,
    first
      ? `<p class="status">FIRST DIVERGENCE: seq ${first.seq}, ${e(first.name)} (${e(first.section)}), then ${r.divergences.length - 1} more.</p>`
      : '<p>No divergence.</p>',
    r.divergences.length
      ? `<table><thead><tr><th>seq</th><th>command</th><th>name</th><th>recorded</th><th>replayed</th><th>why</th><th>spec</th></tr></thead><tbody>\n${rows}\n</tbody></table>`
      : '',
    ...r.notReplayable.map((n) => `<p>Not replayable: seq ${n.seq} ${e(n.command)}: ${e(n.why)}</p>`),
    ...r.notes.map((n) => `<p>Note: ${e(n)}</p>`),
    '</section>',
  ].join('\n');
}

/** … and as a page of its own (well-formed XML, no script, like report.html). */
export function replayHtml(r: ReplayResult): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    `<head><meta charset="utf-8"/><title>myna-hil replay</title><style>${STYLE}</style></head>`,
    `<body>\n${replaySection(r)}\n</body>`,
    '</html>',
    '',
  ].join('\n');
}

export const REPLAY_REPORTERS = ['console', 'json', 'html'] as const;

/** Writes the chosen reports; returns the files written and the console text (or ''). */
export function writeReplayReports(r: ReplayResult, reporters: string[], outDir: string): { files: string[]; console: string } {
  const files: string[] = [];
  if (reporters.includes('json')) files.push(writeReport(outDir, REPLAY_JSON, replayJson(r)));
  if (reporters.includes('html')) files.push(writeReport(outDir, REPLAY_HTML, replayHtml(r)));
  return { files, console: reporters.includes('console') ? replayText(r) : '' };
}
