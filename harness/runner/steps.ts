/**
 * The steps of one scenario, in order, each framed by events: step-start, the card's counters before,
 * the client's output lines as they come, the step's APDUs, the counters after, one expectation event
 * per checked item, step-end. A step that fails stops the scenario (the rest are reported skipped, the
 * final expectations are not checked): what follows a failure would only report its consequences.
 *
 * Defaults, so that a scenario that says little still checks something: a client step expects exit 0
 * and is always checked for a printed PIN; a card action expects 90 00 (a query 63 Cx, a flow its own
 * checks). A card action that gets no answer fails, unless the scenario's last event was a removal or a
 * power loss: then silence is what it asked for (an explicit `sw` still has to match).
 */
import { dirname } from 'node:path';
import { InputError } from '../../simulator/errors.ts';
import { waitFor } from '../wait.ts';
import type { CardAction, CardStep, ClientStep, EventStep, IssuerStep, Scenario, Step, WaitStep, Where } from '../scenario/model.ts';
import type { PreparedCard } from '../targets/target.ts';
import type { PinCounters, ScenarioStatus, StepStatus } from './events.ts';
import { runCardAction } from './card-actions.ts';
import { type Check, checkCard, checkDuration, checkExit, checkSw, checkText, checkTrace } from './expect.ts';
import type { ClientRunResult } from '../clients/client.ts';
import type { RunOptions } from './run.ts';
import { expandTemplate, type PinMask, pinVars } from './templates.ts';

/** Why a scenario ended in `error`: decides the exit code (2 input, 3 environment). */
/** input: exit 2; environment: exit 3; guard: exit 4 (a physical card kept from its lock, or not allowed). */
export type ErrorKind = 'input' | 'environment' | 'guard';

export interface ScenarioOutcome {
  status: ScenarioStatus;
  message?: string;
  where?: string;
  errorKind?: ErrorKind;
}

export const scenarioKey = (s: Scenario): string => `${s.file}#${s.index}`;

/**
 * A thrown error: bad input (exit 2) or a broken environment / harness (exit 3), masked, and placed
 * at `where` (`file:line:col: `) unless its message already says where it comes from.
 */
export function errorOutcome(err: unknown, mask: (t: string) => string, where?: string): ScenarioOutcome {
  // Errors that know their exit code say so (InputError 2, the guard's 4); anything else is the environment's.
  const code = (err as { exitCode?: unknown } | undefined)?.exitCode;
  const errorKind: ErrorKind = err instanceof InputError || code === 2 ? 'input' : code === 4 ? 'guard' : 'environment';
  const text = (err as Error)?.message ?? String(err);
  const message = where && !text.startsWith(where) ? `${where}: ${text}` : text;
  return { status: 'error', message: mask(message), where, errorKind };
}

export interface StepVerdict {
  status: StepStatus;
  message?: string;
  /** Set for `error`: an input error (exit 2) or an environment one (exit 3). */
  error?: ScenarioOutcome;
}

interface StepContext {
  scenario: Scenario;
  card: PreparedCard;
  options: RunOptions;
  mask: PinMask;
  baseVars: Record<string, string>;
  now: () => number;
  /** Emits apdu events for the trace from `from`; returns the new end. */
  emitApdus: (from: number, step: number) => number;
}

/** What executing a step produced, before its expectations are checked. */
interface Executed {
  checks: Check[];
  message?: string;
  durationMs?: number;
}

export function stepLabel(step: Step): string {
  if (step.name) return step.name;
  switch (step.kind) {
    case 'client':
      return `client ${step.client}`;
    case 'card':
      return actionLabel(step.action);
    case 'event':
      return `event ${step.event.type}`;
    case 'issuer':
      return `issuer ${step.action}${step.pin ? ` ${step.pin}` : ''}`;
    case 'wait':
      return `wait for ${'card' in step.until ? 'card' : 'trace'}`;
  }
}

function actionLabel(a: CardAction): string {
  switch (a.do) {
    case 'apdu':
      return 'apdu';
    case 'select':
      return `select ${a.app}`;
    case 'query':
    case 'verify':
    case 'change':
      return `${a.do} ${a.pin}`;
    case 'read':
      return `read ${a.app} ${a.ef}`;
    case 'sign':
      return `sign with ${a.key}`;
    case 'flow':
      return `flow ${a.flow}`;
  }
}

/** The status word a card action must answer when the step names none. */
const defaultSw = (a: CardAction): string | undefined => (a.do === 'query' ? '63Cx' : a.do === 'flow' ? undefined : '9000');

export class StepRunner {
  private traceMark = 0;
  /** A remove or power-loss event was the last thing the scenario did to the card: no answer is what it asked for. */
  private silenceExpected = false;

  constructor(private readonly ctx: StepContext) {}

  private get key(): string {
    return scenarioKey(this.ctx.scenario);
  }

  private emit: RunOptions['emit'] = (e) => this.ctx.options.emit(e);

  async run(): Promise<ScenarioOutcome> {
    const { scenario } = this.ctx;
    let failed: ScenarioOutcome | undefined;
    for (const [i, step] of scenario.steps.entries()) {
      if (failed) {
        this.emit({ type: 'step-start', scenario: this.key, step: i, kind: step.kind, label: stepLabel(step), where: step.where });
        this.emit({ type: 'step-end', scenario: this.key, step: i, status: 'skipped', message: 'not run: an earlier step did not pass', durationMs: 0 });
        continue;
      }
      const v = await this.runStep(i, step);
      if (v.status === 'error') failed = v.error ?? { status: 'error', message: v.message, where: step.where, errorKind: 'environment' };
      else if (v.status === 'failed') failed = { status: 'failed', message: v.message, where: step.where };
    }
    if (failed) return failed;
    return this.finalExpect();
  }

  private async finalExpect(): Promise<ScenarioOutcome> {
    const { scenario, card } = this.ctx;
    const x = scenario.expect;
    if (!x) return { status: 'passed' };
    const pins = await card.counters();
    this.emit({ type: 'card-state', scenario: this.key, pins });
    const checks = [...(x.card ? checkCard(x.card, pins) : []), ...x.trace.map((t) => checkTrace(t, card.trace))];
    const failed = this.emitChecks(checks, undefined, scenario.where);
    return failed.length ? { status: 'failed', message: failed.map(describeFailure).join('; '), where: scenario.where } : { status: 'passed' };
  }

  private emitChecks(checks: Check[], step: number | undefined, where: Where): Check[] {
    const m = this.ctx.mask.apply;
    for (const c of checks)
      this.emit({ type: 'expectation', scenario: this.key, step, what: c.what, passed: c.passed, expected: m(c.expected), actual: m(c.actual), where });
    return checks.filter((c) => !c.passed).map((c) => ({ ...c, expected: m(c.expected), actual: m(c.actual) }));
  }

  private async runStep(i: number, step: Step): Promise<StepVerdict> {
    const { card, now } = this.ctx;
    this.emit({ type: 'step-start', scenario: this.key, step: i, kind: step.kind, label: stepLabel(step), where: step.where });
    const t0 = now();
    let verdict: StepVerdict;
    try {
      await card.settle?.();
      const before = await card.counters();
      this.emit({ type: 'card-state', scenario: this.key, step: i, pins: before });
      const started = now(); // the step's own time, without waiting for the card to settle
      const done = await this.execute(i, step);
      const durationMs = done.durationMs ?? now() - started;
      this.traceMark = this.ctx.emitApdus(this.traceMark, i);
      const after = await card.counters();
      this.emit({ type: 'card-state', scenario: this.key, step: i, pins: after });
      const drop = card.checkDrop?.(before, after, step.expect?.card);
      if (drop) throw drop;
      const checks = [...done.checks, ...this.commonChecks(step, after, durationMs)];
      const failed = this.emitChecks(checks, i, step.where);
      verdict = failed.length
        ? { status: 'failed', message: failed.map(describeFailure).join('; ') }
        : { status: 'passed', message: done.message && this.ctx.mask.apply(done.message) };
    } catch (err) {
      this.traceMark = this.ctx.emitApdus(this.traceMark, i);
      const error = errorOutcome(err, this.ctx.mask.apply, step.where);
      verdict = { status: 'error', message: error.message, error };
    }
    this.emit({ type: 'step-end', scenario: this.key, step: i, status: verdict.status, message: verdict.message, durationMs: now() - t0 });
    return verdict;
  }

  /** Expectations every step kind can have: the card's counters after it and its duration. */
  private commonChecks(step: Step, after: PinCounters, durationMs: number): Check[] {
    const x = step.expect;
    if (!x) return [];
    return [...(x.card ? checkCard(x.card, after) : []), ...(x.durationMs ? checkDuration(x.durationMs, durationMs) : [])];
  }

  private execute(i: number, step: Step): Promise<Executed> {
    switch (step.kind) {
      case 'client':
        return this.client(i, step);
      case 'card':
        return this.cardAction(step);
      case 'event':
        return this.event(step);
      case 'issuer':
        return this.issuer(step);
      case 'wait':
        return this.wait(step);
    }
  }

  /** Template variables now (the issuer may have changed a PIN value since the scenario began). */
  private vars(extra: Record<string, string> = {}): Record<string, string> {
    this.ctx.mask.add(this.ctx.card.pinValues);
    return { ...this.ctx.baseVars, ...pinVars(this.ctx.card.pinValues), ...extra };
  }

  private async client(i: number, step: ClientStep): Promise<Executed> {
    const { options, card, mask } = this.ctx;
    const binding = options.manifest!.clients[step.client]; // notApplicable() checked it exists
    const base = this.vars();
    const args: Record<string, string> = {};
    for (const [k, v] of Object.entries(step.args)) args[`args.${k}`] = expandTemplate(v, base, step.where);
    const vars = { ...base, ...args };
    const timeoutMs = step.timeoutMs ?? binding.timeoutMs;
    const result = await options.runClient({
      binding,
      baseDir: dirname(options.manifest!.file),
      vars,
      answers: step.answers.map((a) => ({ prompt: expandTemplate(a.prompt, vars, step.where), reply: expandTemplate(a.reply, vars, step.where) })),
      channel: binding.kind === 'module' ? card.channel : undefined,
      reader: card.reader,
      timeoutMs,
      onLine: (stream, line) => this.emit({ type: 'output', scenario: this.key, step: i, stream, line: mask.apply(line) }),
      mask: mask.apply,
    });
    if (result.startError !== undefined) throw new ClientStartError(`client ${step.client} could not be started: ${result.startError}`);
    return { checks: clientChecks(step, timeoutMs, result, mask.apply), durationMs: result.durationMs, message: clientMessage(result) };
  }

  private async cardAction(step: CardStep): Promise<Executed> {
    const action = expandAction(step.action, this.vars(), step.where);
    const r = await runCardAction(this.ctx.card.channel, action, this.ctx.card.pinValues, step.where);
    const checks = [...r.checks];
    const want = step.expect?.sw ?? defaultSw(action);
    if (r.noAnswer !== undefined && this.silenceExpected && step.expect?.sw === undefined) {
      checks.push({ what: 'no answer after the injected fault', passed: true, expected: 'no answer', actual: `no answer (${r.noAnswer})` });
    } else if (r.noAnswer !== undefined) {
      checks.push({ what: 'the card answers', passed: false, expected: want ? `SW ${want}` : 'an answer', actual: `no answer (${r.noAnswer})` });
    } else if (want !== undefined) checks.push(checkSw(want, r.sw, step.expect?.sw === undefined ? 'sw (default)' : 'sw'));
    if (r.noAnswer !== undefined) this.silenceExpected = false;
    return { checks, message: r.note };
  }

  private async event(step: EventStep): Promise<Executed> {
    await this.ctx.card.event(step.event);
    const t = step.event.type;
    if (t === 'remove' || t === 'power-loss-after-counter-write') this.silenceExpected = true;
    if (t === 'insert') this.silenceExpected = false;
    return { checks: [] };
  }

  private async issuer(step: IssuerStep): Promise<Executed> {
    const value = step.value === undefined ? undefined : expandTemplate(step.value, this.vars(), step.where);
    try {
      await this.ctx.card.issuer(step.action, step.pin, value);
    } catch (err) {
      if (err instanceof InputError) throw err;
      // The issuer refused (e.g. re-initialising the sign password without a verified auth PIN).
      return { checks: [{ what: `issuer ${step.action}`, passed: false, expected: 'done', actual: `refused: ${(err as Error).message}` }] };
    }
    this.ctx.mask.add(this.ctx.card.pinValues);
    return { checks: [] };
  }

  /** Polls the card or the trace until the condition holds, within the step's deadline. */
  private async wait(step: WaitStep): Promise<Executed> {
    const { card } = this.ctx;
    const until = step.until;
    let last: Check[] = [];
    const evaluate = async (): Promise<boolean> => {
      last = 'card' in until ? checkCard(until.card, await card.counters()) : [checkTrace(until.trace, card.trace)];
      return last.every((c) => c.passed);
    };
    try {
      await waitFor(evaluate, { timeoutMs: step.timeoutMs, what: stepLabel(step) });
    } catch {
      await evaluate();
      return { checks: last.map((c) => ({ ...c, what: `wait: ${c.what}`, actual: `${c.actual} after ${step.timeoutMs} ms` })) };
    }
    return { checks: last.map((c) => ({ ...c, what: `wait: ${c.what}` })) };
  }
}

/** A client that could not be started (command not found): the environment, not the client's verdict. */
export class ClientStartError extends Error {}

function expandAction(a: CardAction, vars: Record<string, string>, where: Where): CardAction {
  const x = (v: string) => expandTemplate(v, vars, where);
  switch (a.do) {
    case 'verify':
      return { ...a, value: x(a.value) };
    case 'change':
      return { ...a, value: x(a.value), newValue: x(a.newValue) };
    case 'sign':
      return { ...a, value: x(a.value), data: x(a.data) };
    case 'apdu':
      return { ...a, hex: x(a.hex) };
    default:
      return a;
  }
}

/** The checks of a client step: the PIN leak (always), the timeout, the exit code, the output. */
function clientChecks(step: ClientStep, timeoutMs: number, r: ClientRunResult, mask: (t: string) => string): Check[] {
  const x = step.expect ?? {};
  const checks: Check[] = [
    {
      what: 'no PIN value in the output',
      passed: !r.leakedPin,
      expected: 'no PIN value of the run in stdout or stderr',
      actual: r.leakedPin ? 'the client printed a PIN value (masked in this report)' : 'none',
    },
  ];
  if (r.timedOut)
    checks.push({
      what: 'ends within its timeout',
      passed: false,
      expected: `ends within ${timeoutMs} ms`,
      actual: `killed after ${Math.round(r.durationMs)} ms`,
    });
  else checks.push(checkExit(x.exit ?? 0, r.exit));
  if (x.stdout) checks.push(...checkText('stdout', x.stdout, mask(r.stdout)));
  if (x.stderr) checks.push(...checkText('stderr', x.stderr, mask(r.stderr)));
  return checks;
}

function clientMessage(r: ClientRunResult): string | undefined {
  return r.unansweredPrompts.length ? `prompts never shown: ${r.unansweredPrompts.join(', ')}` : undefined;
}

function describeFailure(c: Check): string {
  return `${c.what}: expected ${c.expected}, got ${c.actual}`;
}
