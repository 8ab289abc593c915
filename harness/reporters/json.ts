/**
 * The JSON reporter: the run's event stream as JSON Lines in `<outDir>/run.jsonl`, the canonical
 * artefact of a run (other reports can be rebuilt from it). First line a header
 * `{format, version, harnessVersion, target, time}`, then one event a line, exactly as emitted.
 * Written atomically at the end: a reader never sees half a run.
 */
import { EVENTS_FORMAT, EVENTS_VERSION, type RunEvent } from '../runner/events.ts';
import type { Reporter, ReporterFactory, ReporterOptions } from './reporter.ts';
import { writeReport } from './text.ts';

export const JSONL_FILE = 'run.jsonl';

export interface JsonlHeader {
  format: typeof EVENTS_FORMAT;
  version: typeof EVENTS_VERSION;
  harnessVersion: string;
  target: string;
  time: string;
}

export const jsonReporter: ReporterFactory = (options) => new JsonReporter(options);

class JsonReporter implements Reporter {
  readonly name = 'json';
  private readonly events: RunEvent[] = [];

  constructor(private readonly options: ReporterOptions) {}

  onEvent(event: RunEvent): void {
    this.events.push(event);
  }

  async finish(): Promise<string[]> {
    const start = this.events.find((e) => e.type === 'run-start');
    if (!start) throw new Error('json reporter: the event stream has no run-start event (the runner emits it first)');
    const header: JsonlHeader = {
      format: EVENTS_FORMAT,
      version: EVENTS_VERSION,
      harnessVersion: start.harnessVersion,
      target: start.target,
      time: start.time,
    };
    return [writeReport(this.options.outDir, JSONL_FILE, [header, ...this.events].map((line) => `${JSON.stringify(line)}\n`).join(''))];
  }
}
