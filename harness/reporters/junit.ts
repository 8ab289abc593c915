/**
 * The JUnit reporter: `<outDir>/junit.xml` in the shape Jenkins' xUnit plugin reads (its junit-10.xsd;
 * tests/reporters/fixtures/junit.xsd encodes the constraints this file relies on):
 *
 * - one <testsuites>, one <testsuite> per scenario file (name = the file), one <testcase> per scenario:
 *   classname = the file path with dots (`scenarios/examples/pin.yaml` → `scenarios.examples.pin`, so
 *   that CI tools show the directory as package and the file as class), name = `scenario name [ID]`;
 * - `time` in plain decimal seconds (`0.012`), never an exponent;
 * - a failed scenario (the client did wrong) has exactly one <failure>, type = the expectation's kind,
 *   message = `where: what: expected X, got Y`; an error (harness or environment) one <error>; not
 *   applicable and skipped one <skipped message=…>;
 * - the scenario's masked APDU trace and client output (with steps and card states) as <system-out>.
 *
 * Every text is cleaned (escape sequences, XML-invalid and control characters removed) and escaped.
 */
import type { PinCounters } from '../runner/events.ts';
import type { ReporterFactory } from './reporter.ts';
import {
  byFile,
  fileReporter,
  durationOf,
  failedExpectations,
  messageOf,
  type RunRecord,
  type ScenarioEvent,
  type ScenarioRecord,
  statusOf,
} from './collect.ts';
import { apduText, escapeAttr, escapeText, expectationKind, expectationText, formatDuration } from './text.ts';

export const JUNIT_FILE = 'junit.xml';

export const junitReporter: ReporterFactory = fileReporter('junit', JUNIT_FILE, junitXml);

/** The whole document. */
export function junitXml(run: RunRecord): string {
  const suites = [...byFile(run)].map(([file, scenarios]) => testsuite(file, scenarios, run));
  const all = [...run.scenarios.values()];
  const time = run.end?.durationMs ?? all.reduce((sum, s) => sum + durationOf(s), 0);
  const head = element('testsuites', {
    name: 'myna-hil',
    tests: all.length,
    failures: all.filter((s) => statusOf(s) === 'failed').length,
    errors: all.filter((s) => statusOf(s) === 'error').length,
    time: seconds(time),
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n${head}>\n${suites.join('')}</testsuites>\n`;
}

function testsuite(file: string, scenarios: ScenarioRecord[], run: RunRecord): string {
  const count = (status: string) => scenarios.filter((s) => statusOf(s) === status).length;
  const head = element('testsuite', {
    name: file,
    tests: scenarios.length,
    failures: count('failed'),
    errors: count('error'),
    skipped: count('not-applicable') + count('skipped'),
    time: seconds(scenarios.reduce((sum, s) => sum + durationOf(s), 0)),
  });
  return `  ${head}>\n${properties(run)}${scenarios.map(testcase).join('')}  </testsuite>\n`;
}

/** The run's target and harness version, so that a report says what it ran against. */
function properties(run: RunRecord): string {
  if (!run.start) return '';
  const { target, harnessVersion } = run.start;
  const props = [element('property', { name: 'target', value: target }), element('property', { name: 'harnessVersion', value: harnessVersion })];
  return `    <properties>\n${props.map((p) => `      ${p}/>\n`).join('')}    </properties>\n`;
}

function testcase(record: ScenarioRecord): string {
  const name = record.id ? `${record.name} [${record.id}]` : record.name;
  const head = element('testcase', { classname: classname(record.file), name, time: seconds(durationOf(record)) });
  const out = systemOut(record.events);
  const body = [verdict(record), out ? `      <system-out>${escapeText(out)}</system-out>\n` : ''].join('');
  return body ? `    ${head}>\n${body}    </testcase>\n` : `    ${head}/>\n`;
}

/** <failure>, <error> or <skipped> for anything but a pass; exactly one of them. */
function verdict(record: ScenarioRecord): string {
  const status = statusOf(record);
  const message = messageOf(record);
  const where = record.end?.where ?? record.where;
  if (status === 'failed') {
    const failed = failedExpectations(record);
    const first = failed[0];
    const type = first ? expectationKind(first.what) : 'failure';
    const lines = failed.map(expectationText);
    if (message !== undefined) lines.push(`${where}: ${message}`);
    const summary = lines[0] ?? `${where}: failed`;
    return `      ${element('failure', { type, message: summary })}>${escapeText(lines.join('\n'))}</failure>\n`;
  }
  if (status === 'error') {
    const text = `${where}: ${message ?? 'error'}`;
    return `      ${element('error', { type: 'error', message: text })}>${escapeText(text)}</error>\n`;
  }
  if (status === 'not-applicable' || status === 'skipped') {
    const prefix = status === 'not-applicable' ? 'not applicable' : 'skipped';
    return `      ${element('skipped', { message: message ? `${prefix}: ${message}` : prefix })}/>\n`;
  }
  return '';
}

/** The scenario's story: steps, the masked APDU trace, client output, card states, expectations. */
export function systemOut(events: ScenarioEvent[]): string {
  return events.map(traceLine).join('\n');
}

function traceLine(e: ScenarioEvent): string {
  switch (e.type) {
    case 'step-start':
      return `step ${e.step} ${e.kind}: ${e.label} (${e.where})`;
    case 'step-end':
      return `step ${e.step} ${e.status} (${formatDuration(e.durationMs)})${e.message ? `: ${e.message}` : ''}`;
    case 'apdu':
      return `  ${apduText(e)}`;
    case 'output':
      return `  ${e.stream}| ${e.line}`;
    case 'card-state':
      return `  card: ${countersText(e.pins)}`;
    case 'expectation':
      return `  ${e.passed ? 'ok' : 'FAILED'} ${expectationText(e)}`;
  }
}

function countersText(pins: PinCounters): string {
  const parts = Object.entries(pins).map(([pin, c]) => `${pin} ${c.triesLeft}/${c.max}${c.locked ? ' locked' : ''}`);
  return parts.join(', ') || 'no counters';
}

/**
 * `scenarios/examples/pin.yaml` → `scenarios.examples.pin`: the extension dropped, path separators as
 * dots, dots inside a name as `_` (a dot would split the name into package and class).
 */
export function classname(file: string): string {
  const parts = file
    .replace(/\.ya?ml$/i, '')
    .split(/[\\/]+/)
    .filter((p) => p !== '' && p !== '.');
  return parts.map((p) => p.replaceAll('.', '_')).join('.') || 'scenarios';
}

/**
 * Plain decimal seconds with millisecond precision: `0.012`, never `1e-3`. Clamped to 2^53 ms (285 000
 * years): toFixed writes an exponent from 1e21 on.
 */
export function seconds(ms: number): string {
  return (Number.isFinite(ms) && ms > 0 ? Math.min(ms, Number.MAX_SAFE_INTEGER) / 1000 : 0).toFixed(3);
}

/** `<name a="…" …` (the caller closes it with `>` or `/>`). */
function element(name: string, attrs: Record<string, string | number>): string {
  const list = Object.entries(attrs).map(([k, v]) => ` ${k}="${escapeAttr(String(v))}"`);
  return `<${name}${list.join('')}`;
}
