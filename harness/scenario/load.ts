/**
 * Loads scenario files and client manifests (docs/scenarios.md): YAML parsed with positions,
 * validated by the zod schemas of schema.ts, then turned into the model of model.ts with a `where`
 * (`file:line:col`) on every scenario, step and binding. Every error is an InputError pointing at the
 * node at fault (source.ts). Values keep their templates; the runner expands them (template.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import type { z } from 'zod';
import { InputError } from '../../simulator/errors.ts';
import type {
  ApduPattern,
  CardAction,
  CardEvent,
  CardExpect,
  CardSetup,
  ClientBinding,
  ClientManifest,
  FinalExpect,
  IssuerStep,
  PinKind,
  Scenario,
  Step,
  StepExpect,
  TextMatch,
  TraceExpect,
  WaitStep,
} from './model.ts';
import {
  type ApduPatternInput,
  type CardExpectInput,
  type CardSetupInput,
  ManifestFile,
  type ManifestInput,
  type ScenarioFieldsInput,
  ScenarioListFile,
  SingleScenarioFile,
  type StepInput,
  type TraceExpectInput,
} from './schema.ts';
import { at, parseYaml, type Path, problemsError, whereOf, type YamlSource, zodProblems } from './source.ts';

const SCENARIO_EXTENSIONS = new Set(['.yaml', '.yml']);
/** Default deadline of a `wait` step and of a client binding without `timeout`. */
export const DEFAULT_WAIT_MS = 5_000;
export const DEFAULT_CLIENT_TIMEOUT_MS = 60_000;

function readSource(path: string, what: string): YamlSource {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new InputError(`${path}: cannot read the ${what}: ${why} (fix: give the path of an existing YAML file)`);
  }
  return parseYaml(path, text);
}

/** `version: 1` must be there, first of all (a later version may mean another shape). */
function checkVersion(src: YamlSource, fix: string): void {
  const data = src.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw problemsError(src, [at(src, [], `expected a mapping with version: 1 and ${fix}`)]);
  }
  const version = (data as Record<string, unknown>).version;
  if (version === undefined) throw problemsError(src, [at(src, ['version'], 'missing; add `version: 1` as the first line')]);
  if (version !== 1) throw problemsError(src, [at(src, ['version'], `unsupported version ${JSON.stringify(version)}; this runner reads version: 1`)]);
}

function validate<T>(src: YamlSource, schema: z.ZodType<T>, data: unknown, prefix: Path = []): T {
  const result = schema.safeParse(data);
  if (!result.success) throw problemsError(src, zodProblems(src, result.error.issues, prefix));
  return result.data;
}

/** The scenarios of one YAML file: one scenario, or a list under `scenarios:`. */
export function loadScenarios(path: string): Scenario[] {
  const src = readSource(path, 'scenario file');
  checkVersion(src, 'the fields of a scenario (name, card, steps, expect) or a list under scenarios:');
  const data = src.data as Record<string, unknown>;
  if ('scenarios' in data) {
    const file = validate(src, ScenarioListFile, data);
    return file.scenarios.map((s, i) => toScenario(src, s, i, ['scenarios', i]));
  }
  const { version: _, ...fields } = validate(src, SingleScenarioFile, data);
  return [toScenario(src, fields, 0, [])];
}

/** A client manifest kept beside the scenarios of a suite (`clients.yaml`, `clients-<variant>.yaml`): not a scenario file. */
export const isManifestName = (name: string): boolean => /^clients(?:[-.][\w.-]+)?\.ya?ml$/.test(name);

/**
 * Scenario files among paths: files as given, directories searched for *.yaml / *.yml (client manifests,
 * `clients*.yaml`, left out); sorted, unique.
 */
export function findScenarioFiles(paths: readonly string[]): string[] {
  const found = new Set<string>();
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      throw new InputError(`${p}: no such file or directory (fix: give a scenario file or a directory of them)`);
    }
    if (isDir) for (const f of walk(p)) found.add(f);
    else found.add(p);
  }
  return [...found].sort();
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() && e.name !== 'node_modules' && !e.name.startsWith('.')) out.push(...walk(p));
    else if (e.isFile() && SCENARIO_EXTENSIONS.has(extname(e.name)) && !isManifestName(e.name)) out.push(p);
  }
  return out;
}

// ---- scenario → model ---------------------------------------------------------------------------

function toScenario(src: YamlSource, s: ScenarioFieldsInput, index: number, base: Path): Scenario {
  const scenario: Scenario = {
    file: src.file,
    index,
    version: 1,
    name: s.name,
    tags: s.tags ?? [],
    destructive: s.destructive ?? false,
    card: toCardSetup(s.card),
    steps: toSteps(src, s.steps, [...base, 'steps']),
    where: whereOf(src, base),
  };
  if (s.id !== undefined) scenario.id = s.id;
  if (s.expect) scenario.expect = toFinalExpect(s.expect);
  return scenario;
}

function toCardSetup(c: CardSetupInput | undefined): CardSetup {
  const setup: CardSetup = {};
  if (!c) return setup;
  if (c.variant) setup.variant = c.variant;
  if (c.profile !== undefined) setup.profile = c.profile;
  if (c.pins) setup.pins = dropUndefined(c.pins) as CardSetup['pins'];
  if (c.behaviour) setup.behaviour = c.behaviour;
  return setup;
}

function toFinalExpect(e: { card?: CardExpectInput; trace?: TraceExpectInput[] }): FinalExpect {
  const out: FinalExpect = { trace: (e.trace ?? []).map(toTrace) };
  if (e.card) out.card = toCardExpect(e.card);
  return out;
}

/** The steps; a wait on a client is tied to the most recent background client step before it. */
function toSteps(src: YamlSource, steps: StepInput[], path: Path): Step[] {
  let background: number | undefined;
  return steps.map((input, i) => {
    const step = toStep(src, input, [...path, i], background);
    if (step.kind === 'client' && step.background) background = i;
    return step;
  });
}

function toStep(src: YamlSource, s: StepInput, path: Path, background: number | undefined): Step {
  const base = { where: whereOf(src, path), ...(s.name !== undefined && { name: s.name }), ...(s.expect && { expect: toStepExpect(s.expect) }) };
  if ('client' in s) {
    return {
      kind: 'client',
      client: s.client,
      answers: s.answers ?? [],
      args: s.args ?? {},
      ...(s.timeout !== undefined && { timeoutMs: durationMs(s.timeout) }),
      ...(s.background && { background: true }),
      ...base,
    };
  }
  if ('card' in s) return { kind: 'card', action: toCardAction(s.card), ...base };
  if ('event' in s) return { kind: 'event', event: toEvent(s.event), ...base };
  if ('issuer' in s) return { kind: 'issuer', ...toIssuer(s.issuer), ...base };
  const w = s.wait;
  let until: WaitStep['until'];
  if ('card' in w) until = { card: toCardExpect(w.card) };
  else if ('trace' in w) until = { trace: toTrace(w.trace) };
  else {
    if (background === undefined) {
      const fix = 'start a client with `background: true` in an earlier step, or wait on the card or the trace';
      throw problemsError(src, [at(src, [...path, 'wait', 'client'], `no background client was started before this wait; ${fix}`)]);
    }
    const { output, exited } = w.client;
    until = { client: { step: background, ...(output && { output: toTextMatch(output) }), ...(exited && { exited }) } };
  }
  return { kind: 'wait', until, timeoutMs: durationMs(w.timeout ?? DEFAULT_WAIT_MS), ...base };
}

/** The step of a kind, as written. */
type Input<K extends string> = Extract<StepInput, Record<K, unknown>>;

function toCardAction(a: Input<'card'>['card']): CardAction {
  if ('apdu' in a) return { do: 'apdu', hex: hex(a.apdu) };
  if ('select' in a) return { do: 'select', app: a.select };
  if ('query' in a) return { do: 'query', pin: a.query };
  if ('verify' in a) return { do: 'verify', pin: a.verify, value: a.value };
  if ('change' in a) return { do: 'change', pin: a.change, value: a.value, newValue: a.newValue };
  if ('read' in a) return { do: 'read', app: a.app, ef: a.read.toUpperCase() };
  if ('sign' in a) return { do: 'sign', key: a.sign, value: a.value, data: hex(a.data) };
  return { do: 'flow', flow: a.flow };
}

function toEvent(e: Input<'event'>['event']): CardEvent {
  if (typeof e === 'string') return { type: e };
  if ('latency' in e) return { type: 'latency', ms: durationMs(e.latency), ...(e.ins !== undefined && { ins: e.ins.toUpperCase() }) };
  if ('inject-sw' in e) return { type: 'inject-sw', sw: sw(e['inject-sw']), match: toPattern(e.match), times: e.times ?? 1 };
  return { type: 'cut-response', bytes: e['cut-response'] };
}

function toIssuer(i: Input<'issuer'>['issuer']): Pick<IssuerStep, 'action' | 'pin' | 'value'> {
  if ('reset-counter' in i) return { action: 'reset-counter', pin: i['reset-counter'] };
  if ('set-pin' in i) return { action: 'set-pin', pin: i['set-pin'], value: i.value };
  return { action: 'reinit-sign-password', pin: 'sign', value: i['reinit-sign-password'] };
}

function toStepExpect(e: NonNullable<StepInput['expect']>): StepExpect {
  const out: StepExpect = {};
  if (e.exit !== undefined) out.exit = e.exit;
  if (e.stdout) out.stdout = toTextMatch(e.stdout);
  if (e.stderr) out.stderr = toTextMatch(e.stderr);
  if (e.sw !== undefined) out.sw = sw(e.sw);
  if (e.card) out.card = toCardExpect(e.card);
  if (e.duration) out.durationMs = dropUndefined({ min: optDuration(e.duration.min), max: optDuration(e.duration.max) });
  return out;
}

function toTextMatch(t: { contains?: string | string[]; notContains?: string | string[]; matches?: string }): TextMatch {
  const list = (v: string | string[] | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);
  return dropUndefined({ contains: list(t.contains), notContains: list(t.notContains), matches: t.matches });
}

function toCardExpect(c: CardExpectInput): CardExpect {
  const out: CardExpect = {};
  for (const [kind, v] of Object.entries(c)) if (v) out[kind as PinKind] = dropUndefined(v);
  return out;
}

function toTrace(t: TraceExpectInput): TraceExpect {
  if ('contains' in t) return { contains: toPattern(t.contains) };
  if ('never' in t) return { never: toPattern(t.never) };
  if ('inOrder' in t) return { inOrder: t.inOrder.map(toPattern) };
  if ('count' in t) return { count: toPattern(t.count), ...dropUndefined({ min: t.min, max: t.max }) };
  // biome-ignore lint/suspicious/noThenProperty: the model's field (TraceExpect noneAfter.then), a plain value never awaited
  return { noneAfter: { after: toPattern(t.noneAfter.after), then: toPattern(t.noneAfter.then) } };
}

function toPattern(p: ApduPatternInput): ApduPattern {
  const up = (v: string | undefined) => v?.toUpperCase();
  return dropUndefined({
    cla: up(p.cla),
    ins: up(p.ins),
    p1: up(p.p1),
    p2: up(p.p2),
    data: typeof p.data === 'string' ? hex(p.data) : p.data,
    sw: p.sw === undefined ? undefined : sw(p.sw),
  });
}

// ---- value normal forms -------------------------------------------------------------------------

/** Hex as the model keeps it: upper case, no spaces. */
function hex(text: string): string {
  return text.replace(/\s+/g, '').toUpperCase();
}

/** A status word as the model keeps it: upper-case hex digits, `x` for a wildcard. */
function sw(text: string): string {
  return text.toUpperCase().replace(/X/g, 'x');
}

/** Milliseconds of a validated duration (`500ms`, `2s`, a number). */
export function durationMs(d: number | string): number {
  if (typeof d === 'number') return d;
  return d.endsWith('ms') ? Number(d.slice(0, -2)) : Number(d.slice(0, -1)) * 1000;
}

function optDuration(d: number | string | undefined): number | undefined {
  return d === undefined ? undefined : durationMs(d);
}

/** The object without its undefined fields, so that a model value has exactly the fields the file gave. */
function dropUndefined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}

// ---- client manifest ----------------------------------------------------------------------------

/** The client manifest (`clients.yaml`); relative module paths and working directories resolve against its directory. */
export function loadManifest(path: string): ClientManifest {
  const src = readSource(path, 'client manifest');
  checkVersion(src, 'clients:');
  const m = validate(src, ManifestFile, src.data);
  const dir = dirname(resolve(path));
  const clients: Record<string, ClientBinding> = {};
  for (const [name, b] of Object.entries(m.clients)) clients[name] = toBinding(b, dir, whereOf(src, ['clients', name]));
  return { file: path, clients };
}

function toBinding(b: ManifestInput['clients'][string], dir: string, where: string): ClientBinding {
  if ('exec' in b) {
    const e = b.exec;
    return {
      kind: 'exec',
      // a bare command name is looked up on PATH; a relative path is the manifest's
      command: e.command.includes('/') ? fromManifest(dir, e.command) : e.command,
      args: e.args ?? [],
      env: e.env ?? {},
      ...(e.cwd !== undefined && { cwd: fromManifest(dir, e.cwd) }),
      timeoutMs: durationMs(e.timeout ?? DEFAULT_CLIENT_TIMEOUT_MS),
      ...(e.tty !== undefined && { tty: e.tty }),
      where,
    };
  }
  const m = b.module;
  return { kind: 'module', module: fromManifest(dir, m.path), export: m.export ?? 'run', timeoutMs: durationMs(m.timeout ?? DEFAULT_CLIENT_TIMEOUT_MS), where };
}

/** A path relative to the manifest's directory; one starting with a template (`{workDir}/x`) is left for the runner. */
function fromManifest(dir: string, p: string): string {
  return isAbsolute(p) || p.startsWith('{') ? p : resolve(dir, p);
}
