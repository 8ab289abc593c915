/**
 * The HTML reporter: `<outDir>/report.html`, one self-contained page for certification labs. It
 * fetches nothing (no external stylesheet, script, font or image) and needs no script: a header with
 * the run (target, harness version, time, duration, counts, exit code) and an index of scenarios,
 * then one section per scenario file and one <details> per scenario (open unless it passed) with its
 * steps, expectations (failed ones marked FAILED, not only coloured), PIN counters before and after
 * each step, the masked APDU trace and the client output.
 *
 * Why it looks like this: Jenkins' HTML Publisher serves artefacts under a CSP that blocks scripts
 * and inline styles (`default-src 'none'`), so the page is plain tables that read fine unstyled; the
 * status filter is CSS only (checkboxes and :has()), no JavaScript. The document is also well-formed
 * XML (void elements self-closed, no named entities, nothing but `>` in the style sheet), so xmllint
 * can check it and read it back.
 *
 * Every text from events (names, labels, messages, client output) is cleaned (text.ts: escape
 * sequences and control characters removed) and escaped. APDU commands are already redacted and
 * client output masked in the events; this reporter adds nothing a PIN could hide in.
 */
import type { PinCounters, ScenarioStatus, StepStatus } from '../runner/events.ts';
import { PIN_KINDS, type PinKind } from '../scenario/model.ts';
import type { ReporterFactory } from './reporter.ts';
import {
  apdusOf,
  byFile,
  fileReporter,
  durationOf,
  type ExpectationEvent,
  messageOf,
  type RunRecord,
  type ScenarioEvent,
  type ScenarioRecord,
  statusOf,
} from './collect.ts';
import { cleanLine, escapeAttr, escapeText, formatDuration, summaryText } from './text.ts';

export const HTML_FILE = 'report.html';

const STATUSES: readonly ScenarioStatus[] = ['passed', 'failed', 'error', 'not-applicable', 'skipped'];
const LABEL: Record<ScenarioStatus, string> = {
  passed: 'passed',
  failed: 'FAILED',
  error: 'ERROR',
  'not-applicable': 'not applicable',
  skipped: 'skipped',
};

export const htmlReporter: ReporterFactory = fileReporter('html', HTML_FILE, htmlReport);

/** The whole page. */
export function htmlReport(run: RunRecord): string {
  const ids = new Map([...run.scenarios.values()].map((s, i) => [s, `s${i + 1}`] as const));
  const files = [...byFile(run)].map(([file, scenarios]) => fileSection(file, scenarios, ids));
  const title = run.start ? `myna-hil run on ${run.start.target}, ${run.start.time}` : 'myna-hil run';
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    `<head><meta charset="utf-8"/><title>${line(title)}</title><style>${STYLE}</style></head>`,
    '<body>',
    runHeader(run, ids),
    `<main>\n${files.join('')}</main>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function runHeader(run: RunRecord, ids: Map<ScenarioRecord, string>): string {
  const counts = run.counts();
  const facts: [string, string][] = [
    ['Target', run.start?.target ?? 'unknown (no run-start event)'],
    ['Harness version', run.start?.harnessVersion ?? 'unknown'],
    ['Started', run.start?.time ?? 'unknown'],
    ['Duration', run.end ? formatDuration(run.end.durationMs) : 'unknown (the run stopped before its end)'],
    ['Scenarios', summaryText(counts)],
    ['Exit code', run.end ? String(run.end.exitCode) : 'none (the run stopped before its end)'],
  ];
  const rows = facts.map(([k, v]) => `<tr><th scope="row">${k}</th><td>${line(v)}</td></tr>`).join('\n');
  const filters = STATUSES.map((s) => `<label><input type="checkbox" id="show-${s}" checked="checked"/> ${LABEL[s]} (${counts[s]})</label>`).join('\n');
  return `<header>\n<h1>myna-hil run report</h1>\n<table class="run">\n${rows}\n</table>\n<p class="filters">Show: ${filters}</p>\n${scenarioIndex(run, ids)}\n</header>`;
}

/** Every scenario in one table, linking to its section: the lab's overview. */
function scenarioIndex(run: RunRecord, ids: Map<ScenarioRecord, string>): string {
  const rows = [...run.scenarios.values()].map((s) => {
    const status = statusOf(s);
    return `<tr class="st-${status}"><td class="status">${LABEL[status]}</td><td>${line(s.file)}</td><td><a href="#${ids.get(s)}">${line(s.name)}</a></td><td>${line(s.id ?? '')}</td><td class="num">${formatDuration(durationOf(s))}</td></tr>`;
  });
  return table('index', ['Status', 'File', 'Scenario', 'ID', 'Duration'], rows);
}

function fileSection(file: string, scenarios: ScenarioRecord[], ids: Map<ScenarioRecord, string>): string {
  const body = scenarios.map((s) => scenarioDetails(s, ids.get(s)!)).join('');
  return `<section class="file">\n<h2>${line(file)}</h2>\n${body}</section>\n`;
}

function scenarioDetails(record: ScenarioRecord, anchor: string): string {
  const status = statusOf(record);
  const open = status === 'passed' ? '' : ' open="open"';
  const id = record.id ? ` <span class="id">[${line(record.id)}]</span>` : '';
  const summary = `<summary><span class="status">${LABEL[status]}</span> <span class="name">${line(record.name)}</span>${id} <span class="duration">${formatDuration(durationOf(record))}</span></summary>`;
  const message = messageOf(record);
  const where = record.end?.where ?? record.where;
  const parts = [
    `<p class="where">${line(where)}${message !== undefined ? `: <span class="message">${line(message)}</span>` : ''}</p>`,
    stepsTable(record.events),
    expectationsTable(record.events),
    countersTable(record.events),
    apduTable(record),
    outputBlock(record.events),
  ];
  return `<details class="scenario st-${status}" id="${anchor}"${open}>\n${summary}\n${parts.filter(Boolean).join('\n')}\n</details>\n`;
}

function stepsTable(events: ScenarioEvent[]): string {
  const steps = new Map<number, { kind: string; label: string; where: string; status?: StepStatus; message?: string; ms?: number }>();
  for (const e of events) {
    if (e.type === 'step-start') steps.set(e.step, { kind: e.kind, label: e.label, where: e.where });
    else if (e.type === 'step-end') Object.assign(steps.get(e.step) ?? {}, { status: e.status, message: e.message, ms: e.durationMs });
  }
  if (steps.size === 0) return '';
  const rows = [...steps].map(([n, s]) => {
    const status = s.status ?? 'unfinished';
    return `<tr class="step-${status}"><td class="num">${n}</td><td>${line(s.kind)}</td><td>${line(s.label)}</td><td class="status">${status}</td><td class="num">${s.ms === undefined ? '' : formatDuration(s.ms)}</td><td>${line(s.message ?? '')}</td><td class="where">${line(s.where)}</td></tr>`;
  });
  return section('Steps', table('steps', ['Step', 'Kind', 'Label', 'Status', 'Duration', 'Message', 'Where'], rows));
}

function expectationsTable(events: ScenarioEvent[]): string {
  const expectations = events.filter((e): e is ExpectationEvent => e.type === 'expectation');
  if (expectations.length === 0) return '';
  const rows = expectations.map(
    (e) =>
      `<tr class="${e.passed ? 'ok' : 'fail'}"><td class="num">${e.step ?? 'end'}</td><td class="status">${e.passed ? 'ok' : 'FAILED'}</td><td>${line(e.what)}</td><td class="value">${line(e.expected ?? '')}</td><td class="value">${line(e.actual ?? '')}</td><td class="where">${line(e.where)}</td></tr>`,
  );
  return section('Expectations', table('expectations', ['Step', 'Result', 'What', 'Expected', 'Actual', 'Where'], rows));
}

/**
 * The card's PIN counters as the runner read them: before and after each step, and at the end for
 * the scenario's final expectations. A step's card state is "before" when it is the step's first event
 * after step-start (the runner reads the counters before it runs the step), "after" otherwise. A counter
 * that changed since the previous row is marked.
 */
function countersTable(events: ScenarioEvent[]): string {
  const states: { step: string; when: string; pins: PinCounters }[] = [];
  let fresh = false; // nothing of the current step seen yet since its step-start
  for (const e of events) {
    if (e.type === 'step-start') {
      fresh = true;
      continue;
    }
    if (e.type === 'card-state') {
      const when = e.step === undefined ? 'end' : fresh ? 'before' : 'after';
      states.push({ step: e.step === undefined ? '' : String(e.step), when, pins: e.pins });
    }
    fresh = false;
  }
  if (states.length === 0) return '';
  const kinds = PIN_KINDS.filter((k) => states.some((s) => s.pins[k]));
  const rows = states.map((s, i) => {
    const cells = kinds.map((k) => counterCell(s.pins[k], states[i - 1]?.pins[k]));
    return `<tr><td class="num">${s.step}</td><td>${s.when}</td>${cells.join('')}</tr>`;
  });
  return section('PIN counters', table('counters', ['Step', 'When', ...kinds.map((k: PinKind) => `${k} tries left`)], rows));
}

function counterCell(c: PinCounters[PinKind], previous: PinCounters[PinKind]): string {
  if (!c) return '<td class="num">–</td>';
  const changed = previous !== undefined && (previous.triesLeft !== c.triesLeft || previous.locked !== c.locked);
  const classes = ['num', c.locked ? 'locked' : '', changed ? 'changed' : ''].filter(Boolean).join(' ');
  return `<td class="${classes}">${c.triesLeft}/${c.max}${c.locked ? ' locked' : ''}${changed ? ' *' : ''}</td>`;
}

function apduTable(record: ScenarioRecord): string {
  const apdus = apdusOf(record);
  if (apdus.length === 0) return '';
  const rows = apdus.map(
    (a) =>
      `<tr><td class="num">${a.step ?? ''}</td><td class="hex">${line(a.command)}</td><td>${line(a.name)}</td><td class="hex${a.sw === '9000' ? '' : ' sw-other'}">${line(a.sw)}</td><td class="num">${a.responseBytes}</td><td class="num">${formatDuration(a.ms)}</td></tr>`,
  );
  return section(`APDU trace (${apdus.length}, PIN data redacted)`, table('apdus', ['Step', 'Command', 'Name', 'SW', 'Response bytes', 'Time'], rows));
}

/** Client output, one line each, kept as printed but cleaned (tabs kept in a <pre>). */
function outputBlock(events: ScenarioEvent[]): string {
  const lines = events.flatMap((e) =>
    e.type === 'output'
      ? [`<span class="line ${e.stream}"><span class="stream">${e.step} ${e.stream}| </span><span class="text">${escapeText(e.line)}</span></span>`]
      : [],
  );
  if (lines.length === 0) return '';
  return section('Client output', `<pre class="output">${lines.join('\n')}</pre>`);
}

function section(title: string, body: string): string {
  return `<h3>${line(title)}</h3>\n${body}`;
}

function table(name: string, heads: string[], rows: string[]): string {
  const head = heads.map((h) => `<th scope="col">${line(h)}</th>`).join('');
  return `<table class="${escapeAttr(name)}">\n<thead><tr>${head}</tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`;
}

/** One line of text, cleaned and escaped for element content. */
function line(text: string): string {
  return escapeText(cleanLine(text));
}

/**
 * The style sheet: status colours, tables, the CSS-only status filter (an unchecked box hides that
 * status in the index and the sections). Must stay free of `<` and `&` (the page is well-formed XML).
 */
export const STYLE = [
  'body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}',
  'table{border-collapse:collapse;margin:.4em 0 1em}',
  'th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}',
  'thead th{background:#f2f2f2}',
  'td.num{text-align:right;white-space:nowrap}',
  'td.hex,td.value,pre.output,.where{font-family:ui-monospace,monospace}',
  'td.hex{white-space:nowrap}',
  'details.scenario{border:1px solid #ccc;border-left:6px solid #999;margin:.6em 0;padding:.3em .8em}',
  'details.scenario>summary{cursor:pointer;font-weight:600}',
  '.st-passed{border-left-color:#2a8a2a}.st-failed{border-left-color:#c62828}.st-error{border-left-color:#8e24aa}',
  '.st-not-applicable{border-left-color:#c9a100}.st-skipped{border-left-color:#999}',
  '.st-passed>.status,.st-passed>summary>.status{color:#2a8a2a}',
  '.st-failed>.status,.st-failed>summary>.status,tr.fail>.status,tr.step-failed>.status{color:#c62828;font-weight:700}',
  '.st-error>.status,.st-error>summary>.status,tr.step-error>.status{color:#8e24aa;font-weight:700}',
  'tr.fail{background:#fde8e8}',
  'td.locked{color:#c62828;font-weight:700}td.changed{background:#fff4cc}td.sw-other{color:#b45f06}',
  'pre.output{background:#f7f7f7;border:1px solid #ddd;padding:.5em;white-space:pre-wrap}',
  'pre.output .stream{color:#888}pre.output .stderr .text{color:#a33}',
  '.filters label{margin-right:1em}',
  ...STATUSES.map((s) => `body:has(#show-${s}:not(:checked)) .st-${s}{display:none}`),
].join('\n');
