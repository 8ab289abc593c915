/**
 * The console reporter: one line per scenario as it ends (status, name, id, duration); under a failure
 * the failing expectations (`where: what: expected X, got Y`) and the last APDUs of its trace; a
 * summary line at the end. On a terminal a progress line (scenario i/n, current step) is rewritten in
 * place and statuses are coloured; otherwise plain lines only, no escape sequence at all.
 *
 * Everything printed went through cleanLine: scenario names, messages and client text cannot move the
 * cursor or recolour the terminal.
 */
import type { ScenarioStatus } from '../runner/events.ts';
import type { Reporter, ReporterFactory, ReporterOptions } from './reporter.ts';
import { apdusOf, durationOf, failedExpectations, messageOf, RunRecord, type ScenarioRecord, statusOf } from './collect.ts';
import { apduText, cleanLine, expectationText, formatDuration, summaryText } from './text.ts';

const LABEL: Record<ScenarioStatus, string> = { passed: 'PASS', failed: 'FAIL', error: 'ERROR', 'not-applicable': 'N/A', skipped: 'SKIP' };
/** SGR colours: green, red, magenta, yellow, grey. */
const COLOUR: Record<ScenarioStatus, string> = { passed: '32', failed: '31', error: '35', 'not-applicable': '33', skipped: '90' };
const INDENT = '      ';
/** How many APDUs of a failed scenario's trace the console shows (the JUnit and JSON reports have all). */
export const LAST_APDUS = 5;
/** Carriage return + erase line: the progress line is redrawn from its start. */
const CLEAR_LINE = '\r\u001b[2K';

export const consoleReporter: ReporterFactory = (options) => new ConsoleReporter(options);

class ConsoleReporter implements Reporter {
  readonly name = 'console';
  private readonly run = new RunRecord();
  private started = 0;
  private total = 0;
  private progressShown = false;

  constructor(private readonly options: ReporterOptions) {}

  onEvent(event: Parameters<Reporter['onEvent']>[0]): void {
    const record = this.run.add(event);
    if (event.type === 'run-start') this.total = event.scenarios;
    if (!record) return;
    if (event.type === 'scenario-start') {
      this.started += 1;
      this.progress(record);
    } else if (event.type === 'step-start') {
      this.progress(record, `step ${event.step} ${event.kind}: ${event.label}`);
    } else if (event.type === 'scenario-end') {
      this.print(scenarioLines(record, this.options.tty));
    }
  }

  async finish(): Promise<string[]> {
    const duration = this.run.end ? ` (${formatDuration(this.run.end.durationMs)})` : '';
    this.print([`${summaryText(this.run.counts())}${duration}`]);
    return [];
  }

  /** The live line, on a terminal only: `[i/n] name - step k kind: label`, cut to the terminal's width. */
  private progress(record: ScenarioRecord, step?: string): void {
    if (!this.options.tty) return;
    const text = cleanLine(`[${this.started}/${this.total}] ${record.name}${step ? ` - ${step}` : ''}`);
    const width = (this.options.out as { columns?: number }).columns ?? 80;
    this.options.out.write(`${CLEAR_LINE}${fitColumns(text, width - 1)}`);
    this.progressShown = true;
  }

  private print(lines: string[]): void {
    const clear = this.progressShown ? CLEAR_LINE : '';
    this.progressShown = false;
    this.options.out.write(`${clear}${lines.map((l) => `${l}\n`).join('')}`);
  }
}

/** The scenario's line and, for anything but a pass, why. */
export function scenarioLines(record: ScenarioRecord, tty: boolean): string[] {
  const status = statusOf(record);
  const label = LABEL[status].padEnd(5);
  const shown = tty ? `\u001b[${COLOUR[status]}m${label}\u001b[0m` : label;
  const id = record.id ? ` [${cleanLine(record.id)}]` : '';
  const lines = [`${shown} ${cleanLine(record.name)}${id} (${formatDuration(durationOf(record))})`];
  if (status === 'passed') return lines;
  const failed = failedExpectations(record);
  if (status === 'failed' && failed.length > 0) {
    for (const e of failed) lines.push(INDENT + cleanLine(expectationText(e)));
  } else {
    const message = messageOf(record);
    const where = record.end?.where;
    if (message !== undefined) lines.push(INDENT + cleanLine(where ? `${where}: ${message}` : message));
  }
  if (status === 'failed' || status === 'error') lines.push(...lastApdus(record));
  return lines;
}

function lastApdus(record: ScenarioRecord): string[] {
  const apdus = apdusOf(record);
  if (apdus.length === 0) return [];
  const shown = apdus.slice(-LAST_APDUS);
  const head = shown.length < apdus.length ? `last ${shown.length} of ${apdus.length} APDUs:` : 'APDUs:';
  return [INDENT + head, ...shown.map((a) => `${INDENT}  ${cleanLine(apduText(a))}`)];
}

/**
 * Cuts text to `max` terminal columns, East Asian wide characters counting two (scenario names are
 * often Japanese): a progress line that wraps can no longer be erased with one carriage return.
 */
export function fitColumns(text: string, max: number): string {
  let used = 0;
  let out = '';
  for (const ch of text) {
    const w = isWide(ch.codePointAt(0)!) ? 2 : 1;
    if (used + w > max) break;
    used += w;
    out += ch;
  }
  return out;
}

/** The wide ranges of Unicode's East Asian Width (W and F) that names and prompts use. */
function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}
