/**
 * The scenario runner: each scenario against a target, its steps in order, every check as an event
 * (harness/runner/events.ts), the summary and the exit code. Clients are run by an injected
 * `runClient` (harness/clients), so the runner stands alone in tests.
 *
 * Verdicts are strict: what cannot run is "not applicable" (never passed), a client that printed a
 * PIN value fails, a client step without `expect.exit` expects 0, and every text that reaches an event
 * goes through the run's PIN mask.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { swHex } from '../../simulator/apdu/sw.ts';
import { commandName, redactCommand } from '../../simulator/apdu/trace.ts';
import type { ClientRunInput, ClientRunResult } from '../clients/client.ts';
import type { ClientManifest, Scenario } from '../scenario/model.ts';
import type { PreparedCard, Target } from '../targets/target.ts';
import { notApplicable } from './applicable.ts';
import type { EventSink, ScenarioStatus } from './events.ts';
import { responseSw } from './expect.ts';
import { errorOutcome, type ScenarioOutcome, scenarioKey, StepRunner } from './steps.ts';
import { PinMask, pinVars } from './templates.ts';
import { openSessionFile, prepareSessionDir, SessionCapture } from '../session/capture.ts';
import { HARNESS_VERSION } from '../version.ts';

export interface RunOptions {
  target: Target;
  manifest?: ClientManifest;
  runClient: (input: ClientRunInput) => Promise<ClientRunResult>;
  emit: EventSink;
  /** Runs only scenarios whose name, id or file matches. */
  grep?: string | RegExp;
  /** Stops after the first scenario that did not pass (the rest are reported skipped). */
  bail?: boolean;
  /** Epoch milliseconds (tests inject a clock). */
  now?: () => number;
  /** Default: the package's version (harness/version.ts). */
  harnessVersion?: string;
  /** Record each scenario's session (harness/session) as a JSON Lines file in this directory. */
  record?: { dir: string };
  /** For `{env.X}`; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface RunSummary {
  counts: Record<ScenarioStatus, number>;
  exitCode: number;
  durationMs: number;
}

const emptyCounts = (): Record<ScenarioStatus, number> => ({ passed: 0, failed: 0, error: 0, 'not-applicable': 0, skipped: 0 });

function selected(scenarios: Scenario[], grep: RunOptions['grep']): Scenario[] {
  if (grep === undefined) return scenarios;
  const re = typeof grep === 'string' ? new RegExp(grep.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i') : grep;
  return scenarios.filter((s) => re.test(s.name) || (s.id !== undefined && re.test(s.id)) || re.test(s.file));
}

/** 2 bad input, 3 environment, 1 a scenario failed or errored, else 0 (events.ts). */
export function exitCodeOf(outcomes: ScenarioOutcome[]): number {
  if (outcomes.some((o) => o.errorKind === 'input')) return 2;
  if (outcomes.some((o) => o.errorKind === 'guard')) return 4;
  if (outcomes.some((o) => o.errorKind === 'environment')) return 3;
  if (outcomes.some((o) => o.status === 'failed' || o.status === 'error')) return 1;
  return 0;
}

export async function runScenarios(scenarios: Scenario[], options: RunOptions): Promise<RunSummary> {
  const now = options.now ?? Date.now;
  const t0 = now();
  const chosen = selected(scenarios, options.grep);
  if (options.record) prepareSessionDir(options.record.dir);
  options.emit({
    type: 'run-start',
    time: new Date(t0).toISOString(),
    target: options.target.kind,
    harnessVersion: options.harnessVersion ?? HARNESS_VERSION,
    scenarios: chosen.length,
  });
  const broken = await checkTarget(options.target);
  const outcomes: ScenarioOutcome[] = [];
  const counts = emptyCounts();
  const sessionNames = new Set<string>();
  for (const s of chosen) {
    // The guard stops the whole run: a physical card near its lock is not handed to the next scenario.
    const guardStop = outcomes.some((o) => o.errorKind === 'guard');
    const stop = guardStop || (options.bail && outcomes.some((o) => o.status === 'failed' || o.status === 'error'));
    let outcome: ScenarioOutcome;
    const started = now();
    emitScenarioStart(s, options);
    if (broken) outcome = { status: 'error', message: `target ${options.target.kind} cannot run: ${broken}`, errorKind: 'environment' };
    else if (stop)
      outcome = { status: 'skipped', message: guardStop ? 'not run: the guard stopped the run' : 'not run: --bail after a scenario that did not pass' };
    else outcome = await runOne(s, options, now, sessionNames);
    outcomes.push(outcome);
    counts[outcome.status]++;
    options.emit({
      type: 'scenario-end',
      scenario: scenarioKey(s),
      status: outcome.status,
      message: outcome.message,
      where: outcome.where,
      durationMs: now() - started,
    });
  }
  await options.target.close().catch(() => {}); // the verdicts stand; a target that fails to close changes none
  const exitCode = exitCodeOf(outcomes);
  const durationMs = now() - t0;
  options.emit({ type: 'run-end', durationMs, counts, exitCode });
  return { counts, exitCode, durationMs };
}

/** Why the target cannot run, whether check() says so or throws (a harness or environment fault). */
async function checkTarget(target: Target): Promise<string | undefined> {
  try {
    return await target.check();
  } catch (err) {
    return `its check failed: ${(err as Error)?.message ?? String(err)}`;
  }
}

function emitScenarioStart(s: Scenario, options: RunOptions): void {
  options.emit({ type: 'scenario-start', scenario: scenarioKey(s), file: s.file, name: s.name, id: s.id, where: s.where });
}

/** One scenario: applicability, the card, the steps, the final expectations, the card closed. */
async function runOne(s: Scenario, options: RunOptions, now: () => number, sessionNames: Set<string>): Promise<ScenarioOutcome> {
  const na = notApplicable(s, options.target, options.manifest);
  if (na) return { status: 'not-applicable', message: na };
  const mask = new PinMask();
  let card: PreparedCard | undefined;
  let workDir: string | undefined;
  let capture: SessionCapture | undefined;
  try {
    if (options.record) {
      const sink = openSessionFile(options.record.dir, s.file, s.id ?? s.name, sessionNames);
      const scenario = { file: s.file, name: s.name };
      capture = new SessionCapture(sink, { target: options.target.kind, harnessVersion: options.harnessVersion ?? HARNESS_VERSION, scenario });
    }
    card = await options.target.prepare(s.card, dirname(s.file), { destructive: s.destructive, capture });
    mask.add(card.pinValues);
    workDir = mkdtempSync(join(tmpdir(), 'myna-hil-run-'));
    const challengeFile = join(workDir, 'challenge.bin');
    writeFileSync(challengeFile, randomBytes(32)); // a fresh challenge per scenario: a client cannot replay one
    const base = {
      ...envVars(options.env ?? process.env),
      ...pinVars(card.pinValues),
      workDir,
      challengeFile,
      ...(card.reader ? { reader: card.reader } : {}),
    };
    const steps = new StepRunner({
      scenario: s,
      card,
      options,
      mask,
      baseVars: base,
      now,
      emitApdus: (from, step) => emitApdus(s, card!, from, step, options),
    });
    return await steps.run();
  } catch (err) {
    return errorOutcome(err, mask.apply, s.where);
  } finally {
    await card?.close().catch(() => {});
    capture?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  }
}

function envVars(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[`env.${k}`] = v;
  return out;
}

/** The exchanges since `from`, as apdu events (commands redacted). */
function emitApdus(s: Scenario, card: PreparedCard, from: number, step: number, options: RunOptions): number {
  const trace = card.trace;
  for (let i = from; i < trace.length; i++) {
    const e = trace[i];
    const sw = responseSw(e.response);
    options.emit({
      type: 'apdu',
      scenario: scenarioKey(s),
      step,
      command: redactCommand(e.command),
      name: commandName(e.command),
      sw: sw === undefined ? '' : swHex(sw),
      responseBytes: Math.max(0, e.response.length - 2),
      ms: e.ms,
    });
  }
  return trace.length;
}

export type { ErrorKind, ScenarioOutcome } from './steps.ts';
