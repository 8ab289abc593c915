/**
 * A hand-written run for the reporter tests: two files, four scenarios (passed, failed, error, not
 * applicable), an APDU trace longer than the console shows, client output with ANSI sequences,
 * control characters and XML specials.
 */
import type { ReporterFactory } from '../../harness/reporters/reporter.ts';
import type { RunEvent } from '../../harness/runner/events.ts';
import { Writable } from 'node:stream';

export const KIOSK = 'scenarios/examples/kiosk.yaml';
export const LAB = 'scenarios/lab/pcsc.only.yaml';

const select = (scenario: string, step: number): RunEvent => ({
  type: 'apdu',
  scenario,
  step,
  command: '00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01',
  name: 'SELECT',
  sw: '9000',
  responseBytes: 0,
  ms: 1,
});
const query = (scenario: string, step: number, sw: string): RunEvent => ({
  type: 'apdu',
  scenario,
  step,
  command: '00 20 00 80',
  name: 'VERIFY',
  sw,
  responseBytes: 0,
  ms: 2,
});

export const passed: RunEvent[] = [
  { type: 'scenario-start', scenario: `${KIOSK}#0`, file: KIOSK, name: 'reads the auth certificate', id: 'CLIENT-001', where: `${KIOSK}:3:1` },
  { type: 'step-start', scenario: `${KIOSK}#0`, step: 1, kind: 'client', label: 'read-auth-cert', where: `${KIOSK}:8:5` },
  select(`${KIOSK}#0`, 1),
  {
    type: 'apdu',
    scenario: `${KIOSK}#0`,
    step: 1,
    command: '00 B0 00 00 00',
    name: 'READ BINARY',
    sw: '9000',
    responseBytes: 1200,
    ms: 14,
  },
  { type: 'output', scenario: `${KIOSK}#0`, step: 1, stream: 'stdout', line: 'certificate: 1200 bytes' },
  { type: 'card-state', scenario: `${KIOSK}#0`, step: 1, pins: { auth: { triesLeft: 3, max: 3, locked: false } } },
  { type: 'expectation', scenario: `${KIOSK}#0`, step: 1, what: 'exit', passed: true, expected: '0', actual: '0', where: `${KIOSK}:12:7` },
  { type: 'step-end', scenario: `${KIOSK}#0`, step: 1, status: 'passed', durationMs: 18 },
  { type: 'scenario-end', scenario: `${KIOSK}#0`, status: 'passed', durationMs: 20 },
];

/** Output text a misbehaving client prints: colours, a bell, a backspace, a C1 CSI, XML specials. */
export const NASTY_LINE = '\u001b[31m残り1回\u001b[0m\u0007 <b>&amp; "q" \'a\'\b ]]> \u009b2J';
export const NASTY_LINE_CLEAN = '残り1回 <b>&amp; "q" \'a\' ]]> ';

export const failed: RunEvent[] = [
  { type: 'scenario-start', scenario: `${KIOSK}#1`, file: KIOSK, name: 'asks before the last try', id: 'CLIENT-012', where: `${KIOSK}:20:3` },
  { type: 'step-start', scenario: `${KIOSK}#1`, step: 1, kind: 'client', label: 'kiosk-sign', where: `${KIOSK}:25:5` },
  select(`${KIOSK}#1`, 1),
  query(`${KIOSK}#1`, 1, '63C3'),
  { type: 'apdu', scenario: `${KIOSK}#1`, step: 1, command: '00 20 00 80 <redacted>', name: 'VERIFY', sw: '63C2', responseBytes: 0, ms: 3 },
  query(`${KIOSK}#1`, 1, '63C2'),
  { type: 'apdu', scenario: `${KIOSK}#1`, step: 1, command: '00 20 00 80 <redacted>', name: 'VERIFY', sw: '63C1', responseBytes: 0, ms: 3 },
  query(`${KIOSK}#1`, 1, '63C1'),
  { type: 'apdu', scenario: `${KIOSK}#1`, step: 1, command: '00 20 00 80 <redacted>', name: 'VERIFY', sw: '6983', responseBytes: 0, ms: 3 },
  { type: 'output', scenario: `${KIOSK}#1`, step: 1, stream: 'pty', line: NASTY_LINE },
  { type: 'output', scenario: `${KIOSK}#1`, step: 1, stream: 'stderr', line: 'PIN <pin:auth> rejected' },
  {
    type: 'card-state',
    scenario: `${KIOSK}#1`,
    step: 1,
    pins: { auth: { triesLeft: 0, max: 3, locked: true }, sign: { triesLeft: 5, max: 5, locked: false } },
  },
  { type: 'expectation', scenario: `${KIOSK}#1`, step: 1, what: 'exit', passed: false, expected: '3', actual: '0', where: `${KIOSK}:28:13` },
  {
    type: 'expectation',
    scenario: `${KIOSK}#1`,
    step: 1,
    what: 'stdout matches',
    passed: true,
    expected: '/残り1回/',
    actual: 'matched',
    where: `${KIOSK}:29:15`,
  },
  { type: 'step-end', scenario: `${KIOSK}#1`, step: 1, status: 'failed', durationMs: 1240 },
  {
    type: 'expectation',
    scenario: `${KIOSK}#1`,
    what: 'trace never',
    passed: false,
    expected: 'no VERIFY with data after 63 C1',
    actual: '00 20 00 80 <redacted> (VERIFY) answered 6983',
    where: `${KIOSK}:34:7`,
  },
  { type: 'scenario-end', scenario: `${KIOSK}#1`, status: 'failed', durationMs: 1250.4 },
];

export const errored: RunEvent[] = [
  { type: 'scenario-start', scenario: `${LAB}#0`, file: LAB, name: 'survives a reset', where: `${LAB}:2:1` },
  { type: 'step-start', scenario: `${LAB}#0`, step: 1, kind: 'event', label: 'reset', where: `${LAB}:6:5` },
  query(`${LAB}#0`, 1, '63C3'),
  { type: 'step-end', scenario: `${LAB}#0`, step: 1, status: 'error', message: 'pcscd stopped answering', durationMs: 5 },
  { type: 'scenario-end', scenario: `${LAB}#0`, status: 'error', message: 'pcscd stopped answering', where: `${LAB}:6:5`, durationMs: 7 },
];

export const notApplicable: RunEvent[] = [
  { type: 'scenario-start', scenario: `${LAB}#1`, file: LAB, name: 'kiosk over PC/SC', id: 'KIOSK-003', where: `${LAB}:12:3` },
  { type: 'scenario-end', scenario: `${LAB}#1`, status: 'not-applicable', message: 'needs pcscd: exec client "kiosk-cli" on target sim', durationMs: 0 },
];

export const runStart: Extract<RunEvent, { type: 'run-start' }> = {
  type: 'run-start',
  time: '2026-12-01T09:30:00.000Z',
  target: 'sim',
  harnessVersion: '0.1.0',
  scenarios: 4,
};
export const runEnd: RunEvent = {
  type: 'run-end',
  durationMs: 1302,
  counts: { passed: 1, failed: 1, error: 1, 'not-applicable': 1, skipped: 0 },
  exitCode: 1,
};

export const RUN: RunEvent[] = [runStart, ...passed, ...failed, ...errored, ...notApplicable, runEnd];

/** A writable that keeps what was written, and pretends to be a terminal of `columns` when asked. */
export function captureStream(columns?: number): Writable & { text: () => string; columns?: number } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  }) as Writable & { text: () => string; columns?: number };
  stream.text = () => chunks.join('');
  if (columns !== undefined) stream.columns = columns;
  return stream;
}

/** Feeds the events to a reporter made by `factory` and finishes it. */
export async function feed(factory: ReporterFactory, events: RunEvent[], options: { outDir?: string; tty?: boolean; columns?: number } = {}) {
  const out = captureStream(options.columns);
  const reporter = factory({ outDir: options.outDir ?? '/nonexistent/reports', out, tty: options.tty ?? false });
  for (const e of events) reporter.onEvent(e);
  const files = await reporter.finish();
  return { text: out.text(), files };
}
