/**
 * The run as reporters need it at the end: the events grouped per scenario, in the order scenarios
 * started. The console reporter uses it to print a failure's details, JUnit and HTML to build the
 * whole report. It keeps events as they came; it never invents a verdict but one: a scenario that
 * started and never ended (the runner stopped) counts as an error.
 */
import type { RunEvent, ScenarioKey, ScenarioStatus } from '../runner/events.ts';
import type { ReporterFactory } from './reporter.ts';
import { writeReport } from './text.ts';

export type RunStartEvent = Extract<RunEvent, { type: 'run-start' }>;
export type RunEndEvent = Extract<RunEvent, { type: 'run-end' }>;
export type ScenarioEndEvent = Extract<RunEvent, { type: 'scenario-end' }>;
/** Every event that belongs to one scenario, after its start. */
export type ScenarioEvent = Exclude<RunEvent, { type: 'run-start' | 'run-end' | 'scenario-start' | 'scenario-end' }>;
export type ExpectationEvent = Extract<RunEvent, { type: 'expectation' }>;
export type ApduEvent = Extract<RunEvent, { type: 'apdu' }>;

export interface ScenarioRecord {
  key: ScenarioKey;
  file: string;
  name: string;
  id?: string;
  where: string;
  /** The scenario's events between its start and its end, in order. */
  events: ScenarioEvent[];
  end?: ScenarioEndEvent;
}

export const EMPTY_COUNTS: Readonly<Record<ScenarioStatus, number>> = { passed: 0, failed: 0, error: 0, 'not-applicable': 0, skipped: 0 };

export const UNFINISHED_MESSAGE = 'the run stopped before this scenario ended';

export class RunRecord {
  start?: RunStartEvent;
  end?: RunEndEvent;
  readonly scenarios = new Map<ScenarioKey, ScenarioRecord>();

  /** A record of a whole event stream. */
  static of(events: Iterable<RunEvent>): RunRecord {
    const run = new RunRecord();
    for (const e of events) run.add(e);
    return run;
  }

  /** Files the events; returns the scenario the event belongs to, if any. */
  add(event: RunEvent): ScenarioRecord | undefined {
    switch (event.type) {
      case 'run-start':
        this.start = event;
        return undefined;
      case 'run-end':
        this.end = event;
        return undefined;
      case 'scenario-start': {
        const { scenario: key, file, name, id, where } = event;
        const record: ScenarioRecord = { key, file, name, id, where, events: [] };
        this.scenarios.set(key, record);
        return record;
      }
      case 'scenario-end': {
        const record = this.scenario(event.scenario);
        record.end = event;
        return record;
      }
      default: {
        const record = this.scenario(event.scenario);
        record.events.push(event);
        return record;
      }
    }
  }

  /** A scenario by key; one whose start was never seen gets a record named after its key. */
  private scenario(key: ScenarioKey): ScenarioRecord {
    let record = this.scenarios.get(key);
    if (!record) {
      const hash = key.lastIndexOf('#');
      const file = hash > 0 ? key.slice(0, hash) : key;
      record = { key, file, name: key, where: file, events: [] };
      this.scenarios.set(key, record);
    }
    return record;
  }

  /** The run-end's counts when the runner sent them, else counted from the scenarios seen. */
  counts(): Record<ScenarioStatus, number> {
    if (this.end) return this.end.counts;
    const counts = { ...EMPTY_COUNTS };
    for (const record of this.scenarios.values()) counts[statusOf(record)] += 1;
    return counts;
  }
}

export function statusOf(record: ScenarioRecord): ScenarioStatus {
  return record.end?.status ?? 'error';
}

/** The scenario-end message, or why there is none. */
export function messageOf(record: ScenarioRecord): string | undefined {
  return record.end ? record.end.message : UNFINISHED_MESSAGE;
}

export function durationOf(record: ScenarioRecord): number {
  return record.end?.durationMs ?? 0;
}

export function failedExpectations(record: ScenarioRecord): ExpectationEvent[] {
  return record.events.filter((e): e is ExpectationEvent => e.type === 'expectation' && !e.passed);
}

export function apdusOf(record: ScenarioRecord): ApduEvent[] {
  return record.events.filter((e): e is ApduEvent => e.type === 'apdu');
}

/** Scenarios grouped by file, files in the order their first scenario started. */
export function byFile(record: RunRecord): Map<string, ScenarioRecord[]> {
  const files = new Map<string, ScenarioRecord[]>();
  for (const scenario of record.scenarios.values()) {
    const list = files.get(scenario.file);
    if (list) list.push(scenario);
    else files.set(scenario.file, [scenario]);
  }
  return files;
}

/**
 * A reporter that keeps the run's events and, once the run is over, writes one file rendered from
 * them (junit.xml, report.html).
 */
export function fileReporter(name: string, file: string, render: (run: RunRecord) => string): ReporterFactory {
  return (options) => {
    const run = new RunRecord();
    return {
      name,
      onEvent: (event) => run.add(event),
      finish: async () => [writeReport(options.outDir, file, render(run))],
    };
  };
}
