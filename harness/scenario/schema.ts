/**
 * The zod schemas of the YAML a scenario file and a client manifest hold, as written (before the
 * loader turns them into the model of model.ts). They are the one source of truth for validation and
 * for the published JSON Schema (scenarios/schema/*.json, `scripts/gen-schema.ts`). docs/scenarios.md
 * is their reference.
 *
 * Two conventions the loader (errors.ts) reads back out of zod's issues:
 * - a union dispatched on which key an object has (a step is `client:`, `card:`, `event:`, ...) is
 *   built with `keyed()`: its failure message is a marker naming it, so that the loader can report
 *   the one option the user meant instead of every option's complaint;
 * - a strict object's unknown-key message is the list of its allowed fields (`obj()`).
 * This module imports zod only (and the flow ids), so that the schema script runs without the YAML parser.
 */
import { z } from 'zod';
import { SPEC_FLOWS } from '../flows/spec-flows.ts';
import { PIN_KINDS, type PinKind } from './model.ts';
import { templateProblem } from './template.ts';

/** Prefix of the message of a keyed union's failure; the rest is the union's name in KEYED_UNIONS. */
export const KEYED_MARK = '\u0000keyed:';
/** Prefix of the message of a strict object's unknown-key failure; the rest lists the allowed fields. */
export const ALLOWED_MARK = '\u0000allowed:';
/** Suffix of a failure message where a quoted string would have been accepted (the loader adds "quote it"). */
export const STRINGY_MARK = '\u0001';

export interface KeyedUnion {
  /** What the object is, for messages: "step kind", "card action". */
  what: string;
  /** The dispatching keys, in the order of the union's options (after `bare`, if any). */
  keys: string[];
  /** Fields every option has besides its key (`name`, `expect`): not a kind. */
  common: string[];
  /** Options written as a bare word (`event: remove`), tried first. */
  bare?: readonly string[];
}
export const KEYED_UNIONS = new Map<string, KeyedUnion>();

/** A strict object whose unknown-key message lists the allowed fields. */
function obj<S extends z.ZodRawShape>(shape: S) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, { error: (iss) => (iss.code === 'unrecognized_keys' ? `${ALLOWED_MARK}${allowed}` : undefined) });
}

/**
 * A union of objects each told apart by one key (`{ verify: auth, value: ... }`), optionally preceded
 * by a bare-word enum (`remove`). `options` maps each key to its object schema, which must have that key.
 */
function keyed<O extends Record<string, z.ZodObject>, B extends readonly [string, ...string[]] = never>(
  name: string,
  what: string,
  options: O,
  extra: { bare?: B; common?: string[] } = {},
) {
  KEYED_UNIONS.set(name, { what, keys: Object.keys(options), common: extra.common ?? [], bare: extra.bare });
  const objects = Object.values(options) as unknown as [O[keyof O], ...O[keyof O][]];
  const error = () => `${KEYED_MARK}${name}`;
  if (extra.bare) return z.union([z.enum(extra.bare as B), ...objects], { error });
  return z.union(objects, { error });
}

const NOT_EMPTY = 'must not be empty';

// ---- value kinds --------------------------------------------------------------------------------

/** A string that may hold templates (`{pins.auth}`): unknown names are refused at load time. */
const templated = z.string().superRefine((s, ctx) => {
  const problem = templateProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** Hex bytes: an even count of hex digits, spaces allowed between them. */
export const Hex = z
  .string()
  .regex(/^(?:\s*[0-9A-Fa-f]\s*[0-9A-Fa-f])*\s*$/, 'must be hex bytes in quotes: an even count of hex digits, spaces allowed')
  .meta({ id: 'Hex', description: 'hex bytes, spaces allowed' });
/** One byte of a command header. */
const HexByte = z
  .string()
  .regex(/^[0-9A-Fa-f]{2}$/, 'must be one byte in quotes: 2 hex digits')
  .meta({ id: 'HexByte' });
/** An elementary file id. */
const FileId = z.string().regex(/^[0-9A-Fa-f]{4}$/, 'must be a file id in quotes: 4 hex digits');
/** A status word, `x` a wildcard hex digit (`63Cx`). */
export const StatusWord = z
  .string()
  .regex(/^[0-9A-Fa-fxX]{4}$/, "must be a status word in quotes: 4 hex digits, x as a wildcard digit ('63Cx')")
  .meta({
    id: 'StatusWord',
    description: "4 hex digits, x a wildcard digit ('63Cx')",
  });

/** `500ms`, `2s`, or a number of milliseconds. */
const DURATION = 'must be a duration: 500ms, 2s or a whole number of milliseconds';
export const Duration = z.union([z.number().int(DURATION).nonnegative(DURATION), z.string().regex(/^\d+(?:ms|s)$/, DURATION)], { error: DURATION }).meta({
  id: 'Duration',
  description: '500ms, 2s, or a number of milliseconds',
});

const Pin = z.enum(PIN_KINDS as unknown as [PinKind, ...PinKind[]]).meta({ id: 'PinKind' });
const App = z.enum(['jpki', 'text', 'face', 'juki', 'common']).meta({ id: 'AppName' });
const Variant = z.enum(['adult', 'minor', 'expired', 'locked', 'face-auth-only', 'smartphone']);
const Tries = z.number().int().min(0).max(15);

/** One entry per PIN kind, each optional, unknown kinds refused with the list. */
function perPin<T extends z.ZodType>(value: T) {
  return obj(Object.fromEntries(PIN_KINDS.map((k) => [k, value.optional()])) as Record<PinKind, z.ZodOptional<T>>);
}

// ---- expectations -------------------------------------------------------------------------------

const Strings = z.union([z.string(), z.array(z.string())], { error: `must be a string or a list of strings${STRINGY_MARK}` });
const TextMatch = obj({ contains: Strings.optional(), notContains: Strings.optional(), matches: z.string().optional() }).meta({ id: 'TextMatch' });
export const CardExpect = perPin(obj({ triesLeft: Tries.optional(), locked: z.boolean().optional() })).meta({ id: 'CardExpect' });

export const ApduPattern = obj({
  cla: HexByte.optional(),
  ins: HexByte.optional(),
  p1: HexByte.optional(),
  p2: HexByte.optional(),
  data: z.union([z.boolean(), Hex], { error: `must be true, false or hex bytes in quotes${STRINGY_MARK}` }).optional(),
  sw: StatusWord.optional(),
}).meta({ id: 'ApduPattern', description: 'matches one command/response of the trace; every field given must match' });

export const TraceExpect = keyed('trace', 'trace expectation', {
  contains: obj({ contains: ApduPattern }),
  never: obj({ never: ApduPattern }),
  inOrder: obj({ inOrder: z.array(ApduPattern).min(1, NOT_EMPTY) }),
  count: obj({ count: ApduPattern, min: z.number().int().nonnegative().optional(), max: z.number().int().nonnegative().optional() }),
  // biome-ignore lint/suspicious/noThenProperty: the model's field (TraceExpect noneAfter.then), a plain value never awaited
  noneAfter: obj({ noneAfter: obj({ after: ApduPattern, then: ApduPattern }) }),
}).meta({ id: 'TraceExpect' });

const StepExpect = obj({
  exit: z.number().int().min(0).max(255).optional(),
  stdout: TextMatch.optional(),
  stderr: TextMatch.optional(),
  sw: StatusWord.optional(),
  card: CardExpect.optional(),
  duration: obj({ min: Duration.optional(), max: Duration.optional() }).optional(),
}).meta({ id: 'StepExpect' });

// ---- steps --------------------------------------------------------------------------------------

const stepBase = { name: z.string().optional(), expect: StepExpect.optional() };
const STEP_COMMON = Object.keys(stepBase);

const CardAction = keyed('card', 'card action', {
  apdu: obj({ apdu: Hex }),
  select: obj({ select: App }),
  query: obj({ query: Pin }),
  verify: obj({ verify: Pin, value: templated }),
  change: obj({ change: Pin, value: templated, newValue: templated }),
  read: obj({ read: FileId, app: App }),
  sign: obj({ sign: z.enum(['auth', 'sign']), value: templated, data: Hex }),
  flow: obj({ flow: z.enum(SPEC_FLOWS.map((f) => f.id) as [string, ...string[]]) }),
}).meta({ id: 'CardAction' });

const CardEvent = keyed(
  'event',
  'card event',
  {
    latency: obj({ latency: Duration, ins: HexByte.optional() }),
    'inject-sw': obj({ 'inject-sw': StatusWord, match: ApduPattern, times: z.number().int().min(1).optional() }),
    'cut-response': obj({ 'cut-response': z.number().int().nonnegative() }),
  },
  { bare: ['remove', 'insert', 'reset', 'power-loss-after-counter-write'] as const },
).meta({ id: 'CardEvent' });

const IssuerAction = keyed('issuer', 'issuer action', {
  'reset-counter': obj({ 'reset-counter': Pin }),
  'set-pin': obj({ 'set-pin': Pin, value: templated }),
  'reinit-sign-password': obj({ 'reinit-sign-password': templated }),
}).meta({ id: 'IssuerAction' });

const WaitCondition = keyed('wait', 'wait condition', {
  card: obj({ card: CardExpect, timeout: Duration.optional() }),
  trace: obj({ trace: TraceExpect, timeout: Duration.optional() }),
  // on the most recent background client (`background: true`) started before the wait
  client: obj({
    client: obj({ output: TextMatch.optional(), exited: z.literal(true, 'must be true (wait until the client has ended)').optional() }).refine(
      (c) => c.output !== undefined || c.exited !== undefined,
      { message: 'give output, exited or both' },
    ),
    timeout: Duration.optional(),
  }),
});

const Answer = obj({ prompt: z.string(), reply: templated });

export const Step = keyed(
  'step',
  'step kind',
  {
    client: obj({
      client: z.string().min(1, NOT_EMPTY),
      answers: z.array(Answer).optional(),
      args: z.record(z.string(), templated).optional(),
      timeout: Duration.optional(),
      background: z.boolean().optional(),
      ...stepBase,
    }),
    card: obj({ card: CardAction, ...stepBase }),
    event: obj({ event: CardEvent, ...stepBase }),
    issuer: obj({ issuer: IssuerAction, ...stepBase }),
    wait: obj({ wait: WaitCondition, ...stepBase }),
  },
  { common: STEP_COMMON },
).meta({ id: 'Step' });

// ---- scenario files -----------------------------------------------------------------------------

export const CardSetup = obj({
  variant: Variant.optional(),
  profile: z.string().optional(),
  pins: perPin(obj({ triesLeft: Tries.optional() })).optional(),
  behaviour: z.record(z.string(), z.unknown()).optional(),
}).refine((c) => !(c.variant && c.profile), { message: 'give variant or profile, not both' });

const scenarioFields = {
  name: z.string().min(1, NOT_EMPTY),
  id: z.string().optional(),
  tags: z.array(z.string()).optional(),
  destructive: z.boolean().optional(),
  card: CardSetup.optional(),
  steps: z.array(Step),
  expect: obj({ card: CardExpect.optional(), trace: z.array(TraceExpect).optional() }).optional(),
};

const Version = z.literal(1);
/** A file holding one scenario. */
export const SingleScenarioFile = obj({ version: Version, ...scenarioFields });
/** A file holding a list of scenarios under `scenarios:`. */
export const ScenarioListFile = obj({ version: Version, scenarios: z.array(obj(scenarioFields)).min(1, NOT_EMPTY) });
/** What a scenario file is (the published schema). */
export const ScenarioFile = z.union([SingleScenarioFile, ScenarioListFile]);

// ---- client manifest ----------------------------------------------------------------------------

const ExecSpec = obj({
  command: templated.pipe(z.string().min(1, NOT_EMPTY)),
  args: z.array(templated).optional(),
  env: z.record(z.string(), templated).optional(),
  cwd: templated.optional(),
  timeout: Duration.optional(),
  tty: z.boolean().optional(),
});
const ModuleSpec = obj({ path: z.string().min(1, NOT_EMPTY), export: z.string().min(1, NOT_EMPTY).optional(), timeout: Duration.optional() });

const Binding = keyed('binding', 'client binding', { exec: obj({ exec: ExecSpec }), module: obj({ module: ModuleSpec }) });

export const ManifestFile = obj({
  version: Version,
  clients: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be a capability name: lower-case words joined by -'), Binding),
});

export type SingleScenarioInput = z.infer<typeof SingleScenarioFile>;
export type ScenarioFieldsInput = z.infer<ReturnType<typeof obj<typeof scenarioFields>>>;
export type StepInput = z.infer<typeof Step>;
export type ApduPatternInput = z.infer<typeof ApduPattern>;
export type TraceExpectInput = z.infer<typeof TraceExpect>;
export type CardExpectInput = z.infer<typeof CardExpect>;
export type ManifestInput = z.infer<typeof ManifestFile>;
export type CardSetupInput = z.infer<typeof CardSetup>;

/** The published JSON Schemas (draft-07, what editors' YAML language servers read). */
export function jsonSchemas(): { scenario: unknown; clients: unknown } {
  const gen = (schema: z.ZodType, title: string) => ({
    ...z.toJSONSchema(schema, { target: 'draft-07', io: 'input', unrepresentable: 'any', reused: 'ref' }),
    title,
  });
  return {
    scenario: gen(ScenarioFile, 'myna-hil scenario file (version 1), see docs/scenarios.md'),
    clients: gen(ManifestFile, 'myna-hil client manifest (version 1), see docs/scenarios.md'),
  };
}

/** The committed schema files (path relative to the repository root → text), as scripts/gen-schema.ts writes them. */
export function schemaFileTexts(): Record<string, string> {
  const { scenario, clients } = jsonSchemas();
  const text = (schema: unknown) => `${JSON.stringify(schema, null, 2)}\n`;
  return { 'scenarios/schema/scenario.schema.json': text(scenario), 'scenarios/schema/clients.schema.json': text(clients) };
}
