/**
 * The one event stream of a run. The runner emits these; every reporter (console, JSON, JUnit) reads
 * only these; the JSON reporter writes them as JSON Lines (a header line with `format` and `version`,
 * then one event a line), the canonical artefact of a run. PIN values never appear in an event: APDU
 * data of PIN-carrying commands is redacted (simulator/apdu/trace.ts) and client output is masked.
 */
import type { PinKind, Where } from '../scenario/model.ts';

export const EVENTS_FORMAT = 'myna-hil/run-events';
export const EVENTS_VERSION = 1;

export type ScenarioStatus = 'passed' | 'failed' | 'error' | 'not-applicable' | 'skipped';
export type StepStatus = 'passed' | 'failed' | 'error' | 'not-applicable' | 'skipped';

/** A scenario's identity in events: `<file>#<index>`. */
export type ScenarioKey = string;

export type PinCounters = Partial<Record<PinKind, { triesLeft: number; max: number; locked: boolean }>>;

export type RunEvent =
  | { type: 'run-start'; time: string; target: string; harnessVersion: string; scenarios: number }
  | { type: 'scenario-start'; scenario: ScenarioKey; file: string; name: string; id?: string; where: Where }
  | { type: 'step-start'; scenario: ScenarioKey; step: number; kind: string; label: string; where: Where }
  /** One exchange with the card as the target saw it; `command` is redacted hex, `response` is "n bytes SW". */
  | { type: 'apdu'; scenario: ScenarioKey; step?: number; command: string; name: string; sw: string; responseBytes: number; ms: number }
  | { type: 'card-state'; scenario: ScenarioKey; step?: number; pins: PinCounters }
  /** A line a client printed (masked: PIN values of the run replaced by `<pin:auth>`). */
  | { type: 'output'; scenario: ScenarioKey; step: number; stream: 'stdout' | 'stderr' | 'pty'; line: string }
  | { type: 'expectation'; scenario: ScenarioKey; step?: number; what: string; passed: boolean; expected?: string; actual?: string; where: Where }
  /**
   * A step's verdict. A background client step (`background: true`) has two: `passed` when it has
   * started, then its verdict when it has ended (at the end of the scenario, after its expectations).
   */
  | { type: 'step-end'; scenario: ScenarioKey; step: number; status: StepStatus; message?: string; durationMs: number }
  | { type: 'scenario-end'; scenario: ScenarioKey; status: ScenarioStatus; message?: string; where?: Where; durationMs: number }
  | {
      type: 'run-end';
      durationMs: number;
      counts: Record<ScenarioStatus, number>;
      /** 0 all passed, 1 a scenario failed, 2 bad input, 3 environment broken, 4 the guard refused. */
      exitCode: number;
    };

export type EventSink = (event: RunEvent) => void;
