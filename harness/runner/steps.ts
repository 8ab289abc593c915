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
 *
 * A background client step starts its client and ends at once; the client's output is kept for the
 * waits on it (background.ts), and its expectations are checked when it has ended, after the last step
 * and before the final expectations (finishBackground).
 */
import { dirname } from 'node:path';
import { InputError } from '../../simulator/errors.ts';
import { waitFor } from '../wait.ts';
import type { CardAction, CardStep, ClientCondition, ClientStep, EventStep, IssuerStep, Scenario, Step, WaitStep, Where } from '../scenario/model.ts';
import type { PreparedCard } from '../targets/target.ts';
import type { PinCounters, ScenarioStatus, StepStatus } from './events.ts';
import { type BackgroundClient, clientConditionChecks, endText, hasEnded, startBackground } from './background.ts';
import { runCardAction } from './card-actions.ts';
import { type Check, checkCard, checkDuration, checkExit, checkSw, checkText, checkTrace } from './expect.ts';
import type { ClientRunInput, ClientRunResult } from '../clients/client.ts';
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

/** `file.yaml:line:col: ` at the start of an error message: the place it comes from. */
const LOCATED = /^([^\n]+?\.ya?ml:\d+:\d+): /;

/**
 * A thrown error: bad input (exit 2), a broken environment / harness (exit 3) or the guard (exit 4),
 * masked. Its place is `where`, or the place its message starts with (the more precise one, e.g. a
 * template inside the step), and the message is without it: reporters show `where: message`, as for a
 * failed expectation, so the place is said once.
 */
export function errorOutcome(err: unknown, mask: (t: string) => string, where?: string): ScenarioOutcome {
  // Errors that know their exit code say so (InputError 2, the guard's 4); anything else is the environment's.
  const code = (err as { exitCode?: unknown } | undefined)?.exitCode;
  const errorKind: ErrorKind = err instanceof InputError || code === 2 ? 'input' : code === 4 ? 'guard' : 'environment';
  const text = (err as Error)?.message ?? String(err);
  const own = LOCATED.exec(text);
  const message = own ? text.slice(own[0].length) : text;
  return { status: 'error', message: mask(message), where: own?.[1] ?? where, errorKind };
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
  /** A background client: its expectations are checked when it ends (finishBackground). */
  deferred?: boolean;
}

export function stepLabel(step: Step): string {
  if (step.name) return step.name;
  switch (step.kind) {
    case 'client':
      return `client ${step.client}${step.background ? ' (background)' : ''}`;
    case 'card':
      return actionLabel(step.action);
    case 'event':
      return `event ${step.event.type}`;
    case 'issuer':
      return `issuer ${step.action}${step.pin ? ` ${step.pin}` : ''}`;
    case 'wait':
      return `wait for ${'card' in step.until ? 'card' : 'trace' in step.until ? 'trace' : 'client'}`;
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
  /** Background clients by step index, in start order. */
  private readonly background = new Map<number, BackgroundClient>();
  /** The counters read after the last step: what a background client that ends later is compared to (checkDrop). */
  private lastCounters: PinCounters | undefined;

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
    // Background clients end before the card closes, even after a failure; their verdicts are reported.
    const background = await this.finishBackground();
    failed ??= background;
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
      this.lastCounters = after;
      const drop = card.checkDrop?.(before, after, step.expect?.card);
      if (drop) throw drop;
      const checks = done.deferred ? [] : [...done.checks, ...this.commonChecks(step, after, durationMs)];
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

  /** The driver's input for a client step, templates expanded; output lines go to `onLine` masked. */
  private clientInput(step: ClientStep, onLine: (stream: 'stdout' | 'stderr' | 'pty', line: string) => void): ClientRunInput {
    const { options, card, mask } = this.ctx;
    const binding = options.manifest!.clients[step.client]; // notApplicable() checked it exists
    const base = this.vars();
    const args: Record<string, string> = {};
    for (const [k, v] of Object.entries(step.args)) args[`args.${k}`] = expandTemplate(v, base, step.where);
    const vars = { ...base, ...args };
    return {
      binding,
      baseDir: dirname(options.manifest!.file),
      vars,
      answers: step.answers.map((a) => ({ prompt: expandTemplate(a.prompt, vars, step.where), reply: expandTemplate(a.reply, vars, step.where) })),
      channel: binding.kind === 'module' ? card.channel : undefined,
      reader: card.reader,
      timeoutMs: step.timeoutMs ?? binding.timeoutMs,
      onLine: (stream, line) => onLine(stream, mask.apply(line)),
      mask: mask.apply,
    };
  }

  private async client(i: number, step: ClientStep): Promise<Executed> {
    const emitLine = (stream: 'stdout' | 'stderr' | 'pty', line: string) => this.emit({ type: 'output', scenario: this.key, step: i, stream, line });
    if (step.background) {
      const lines: string[] = [];
      const input = this.clientInput(step, (stream, line) => {
        lines.push(line);
        emitLine(stream, line);
      });
      const running = Promise.resolve().then(() => this.ctx.options.runClient(input)); // a driver that throws at once is its failure too
      this.background.set(i, startBackground(i, step, input.timeoutMs, lines, running));
      return { checks: [], deferred: true, message: 'started in the background; its expectations are checked when it ends', durationMs: 0 };
    }
    const input = this.clientInput(step, emitLine);
    const result = await this.ctx.options.runClient(input);
    if (result.startError !== undefined) throw new ClientStartError(`client ${step.client} could not be started: ${result.startError}`);
    return { checks: clientChecks(step, input.timeoutMs, result, this.ctx.mask.apply), durationMs: result.durationMs, message: clientMessage(result) };
  }

  /**
   * Awaits every background client (the driver kills one at its timeout) and checks its step's
   * expectations: an `expectation` event per check and a second `step-end` carrying its verdict. The
   * APDUs made since the last step are attributed to the client awaited. Returns the first that did not pass.
   */
  private async finishBackground(): Promise<ScenarioOutcome | undefined> {
    let first: ScenarioOutcome | undefined;
    for (const bg of this.background.values()) {
      const t0 = this.ctx.now();
      await bg.ended;
      this.traceMark = this.ctx.emitApdus(this.traceMark, bg.index);
      let verdict: StepVerdict;
      try {
        verdict = await this.backgroundVerdict(bg);
      } catch (err) {
        const error = errorOutcome(err, this.ctx.mask.apply, bg.step.where);
        verdict = { status: 'error', message: error.message, error };
      }
      const durationMs = bg.result?.durationMs ?? this.ctx.now() - t0;
      this.emit({ type: 'step-end', scenario: this.key, step: bg.index, status: verdict.status, message: verdict.message, durationMs });
      if (!first && verdict.status === 'error') first = verdict.error;
      else if (!first && verdict.status === 'failed') first = { status: 'failed', message: verdict.message, where: bg.step.where };
    }
    return first;
  }

  private async backgroundVerdict(bg: BackgroundClient): Promise<StepVerdict> {
    if (bg.failure !== undefined) throw bg.failure;
    const r = bg.result!;
    if (r.startError !== undefined) throw new ClientStartError(`client ${bg.step.client} could not be started: ${r.startError}`);
    const after = await this.ctx.card.counters();
    this.emit({ type: 'card-state', scenario: this.key, step: bg.index, pins: after });
    // the physical-card guard: tries the client spent after the last step (earlier ones were seen by that step's check)
    const drop = this.lastCounters && this.ctx.card.checkDrop?.(this.lastCounters, after, bg.step.expect?.card);
    this.lastCounters = after;
    if (drop) throw drop;
    const checks = [...clientChecks(bg.step, bg.timeoutMs, r, this.ctx.mask.apply), ...this.commonChecks(bg.step, after, r.durationMs)];
    const failed = this.emitChecks(checks, bg.index, bg.step.where);
    if (failed.length) return { status: 'failed', message: failed.map(describeFailure).join('; ') };
    const note = clientMessage(r);
    return { status: 'passed', message: note ? this.ctx.mask.apply(note) : 'ended; its expectations passed' };
  }

  private async cardAction(step: CardStep): Promise<Executed> {
    const action = expandAction(step.action, this.vars(), step.where);
    const r = await runCardAction(this.ctx.card.harnessChannel ?? this.ctx.card.channel, action, this.ctx.card.pinValues, step.where);
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

  /**
   * Polls the card, the trace or a background client until the condition holds, within the step's
   * deadline. A wait on a client's output stops early when the client has ended: nothing more can come.
   */
  private async wait(step: WaitStep): Promise<Executed> {
    const { card } = this.ctx;
    const until = step.until;
    const bg = 'client' in until ? this.waitedClient(until.client, step.where) : undefined;
    let last: Check[] = [];
    const evaluate = async (): Promise<boolean> => {
      if ('card' in until) last = checkCard(until.card, await card.counters());
      else if ('trace' in until) last = [checkTrace(until.trace, card.trace)];
      else last = clientConditionChecks(until.client, bg!);
      return last.every((c) => c.passed);
    };
    const gaveUp = () => bg !== undefined && hasEnded(bg);
    try {
      await waitFor(async () => (await evaluate()) || gaveUp(), { timeoutMs: step.timeoutMs, what: stepLabel(step) });
    } catch {
      await evaluate();
      return { checks: last.map((c) => ({ ...c, what: `wait: ${c.what}`, actual: `${c.actual} after ${step.timeoutMs} ms` })) };
    }
    if (bg?.result?.startError !== undefined) throw new ClientStartError(`client ${bg.step.client} could not be started: ${bg.result.startError}`);
    const ended = (c: Check) => (c.passed || !bg ? c.actual : `${c.actual} (the client ${endText(bg)})`);
    return { checks: last.map((c) => ({ ...c, what: `wait: ${c.what}`, actual: ended(c) })) };
  }

  /** The background client a wait names; a model that names no started one is bad input. */
  private waitedClient(c: ClientCondition, where: Where): BackgroundClient {
    const bg = this.background.get(c.step);
    if (!bg)
      throw new InputError(`${where}: wait on a client: step ${c.step} is not a background client started before this wait; start one with background: true`);
    return bg;
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
