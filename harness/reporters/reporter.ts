/**
 * A reporter turns the run's event stream (harness/runner/events.ts) into something people or CI read.
 * One file per reporter, picked by name from REPORTERS (harness/reporters/index.ts). A reporter sees
 * every event in order and is finished once at the end of the run; it never reads anything but events.
 */
import type { RunEvent } from '../runner/events.ts';

export interface ReporterOptions {
  /** Directory for report files (default `reports/`), created when missing. */
  outDir: string;
  /** Where console output goes (the CLI: process.stdout). */
  out: NodeJS.WritableStream;
  /** True when `out` is a terminal: a live progress line instead of plain lines. */
  tty: boolean;
}

export interface Reporter {
  readonly name: string;
  onEvent(event: RunEvent): void;
  /** Writes files, flushes output. Returns the paths it wrote. */
  finish(): Promise<string[]>;
}

export type ReporterFactory = (options: ReporterOptions) => Reporter;
