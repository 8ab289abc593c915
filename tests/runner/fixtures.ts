/**
 * Scenario runner tests: scenarios built as model objects, a sim target on the per-worker test
 * profiles, an event collector and a fake client driver.
 */
import type { ClientRunInput, ClientRunResult } from '../../harness/clients/client.ts';
import type { RunEvent } from '../../harness/runner/events.ts';
import { type RunOptions, runScenarios } from '../../harness/runner/run.ts';
import type { ClientManifest, Scenario, Step } from '../../harness/scenario/model.ts';
import { simTarget } from '../../harness/targets/sim.ts';
import type { Target } from '../../harness/targets/target.ts';
import { testProfile } from '../support/card.ts';

let n = 0;

/** A step as a test writes it: `where` optional. */
export type StepInput = Step extends infer S ? (S extends Step ? Omit<S, 'where'> & { where?: string } : never) : never;

/** A scenario with positions; `steps` take their `where` from their index. */
export function scenario(over: Partial<Omit<Scenario, 'steps'>> & { steps: StepInput[] }): Scenario {
  const file = over.file ?? `scenarios/test-${++n}.yaml`;
  return {
    file,
    index: 0,
    version: 1,
    name: over.name ?? `scenario ${n}`,
    tags: [],
    destructive: false,
    card: {},
    where: `${file}:1:1`,
    ...over,
    steps: over.steps.map((s, i) => ({ ...s, where: s.where ?? `${file}:${i + 5}:5` }) as Step),
  };
}

export const sim = (): Target => simTarget({ profiles: testProfile });

/** A target limited to some capabilities (what a physical card target cannot do). */
export function limited(target: Target, caps: Target['capabilities']): Target {
  return { ...target, capabilities: caps, prepare: target.prepare.bind(target), check: target.check.bind(target), close: target.close.bind(target) };
}

export function result(over: Partial<ClientRunResult> = {}): ClientRunResult {
  return { exit: 0, stdout: '', stderr: '', timedOut: false, unansweredPrompts: [], leakedPin: false, durationMs: 5, ...over };
}

export const manifest: ClientManifest = {
  file: '/suite/clients.yaml',
  clients: {
    'mod-client': { kind: 'module', module: './client.ts', export: 'run', timeoutMs: 5000, where: '/suite/clients.yaml:2:3' },
    'exec-client': { kind: 'exec', command: 'kiosk', args: [], env: {}, timeoutMs: 5000, where: '/suite/clients.yaml:8:3' },
  },
};

export interface Run {
  events: RunEvent[];
  exitCode: number;
  of<T extends RunEvent['type']>(type: T): Extract<RunEvent, { type: T }>[];
  inputs: ClientRunInput[];
}

/** A scenario's end as the reporters show it: `where: message` (the runner says the place once, in `where`). */
export const located = (e: { where?: string; message?: string }): string => (e.where ? `${e.where}: ${e.message}` : (e.message ?? ''));

/** Runs scenarios on a target (sim by default) and collects the events. */
export async function run(scenarios: Scenario[], opts: Partial<RunOptions> = {}): Promise<Run> {
  const events: RunEvent[] = [];
  const inputs: ClientRunInput[] = [];
  const runClient = opts.runClient ?? (async () => result());
  const summary = await runScenarios(scenarios, {
    target: opts.target ?? sim(),
    manifest: manifest,
    emit: (e) => events.push(e),
    ...opts,
    runClient: async (input) => {
      inputs.push(input);
      return runClient(input);
    },
  });
  return {
    events,
    exitCode: summary.exitCode,
    inputs,
    of: <T extends RunEvent['type']>(type: T) => events.filter((e): e is Extract<RunEvent, { type: T }> => e.type === type),
  };
}

/** The failing expectation events of a run, as `what: expected / actual`. */
export const failures = (r: Run): string[] =>
  r
    .of('expectation')
    .filter((e) => !e.passed)
    .map((e) => `${e.what}: ${e.expected} / ${e.actual}`);
