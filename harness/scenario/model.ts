/**
 * The scenario model: what a scenario file (`scenarios/**\/*.yaml`, `version: 1`) says once it is
 * parsed, validated and positioned. The loader (harness/scenario/load.ts) turns YAML into these types;
 * the runner (harness/runner) executes them against a target (harness/targets) with clients
 * (harness/clients); reporters (harness/reporters) read the events the runner emits.
 *
 * Rules every part keeps:
 * - PIN, hex, status-word and AID values are strings in the file; a number there is a load error
 *   ("quote it"), never coerced (a coerced PIN burns a real try).
 * - Values may hold templates, expanded after parsing, never in the raw text: `{pins.auth}` (the run's
 *   value of that PIN), `{pins.wrong.auth}` (a valid-format value that is not it), `{reader}`,
 *   `{challengeFile}`, `{workDir}`, `{env.NAME}`.
 * - PIN values never reach an event, a report or an error message: the runner masks them.
 */

export const SCENARIO_VERSION = 1;

export type PinKind = 'sign' | 'auth' | 'juki' | 'kenmen' | 'common';
export const PIN_KINDS: readonly PinKind[] = ['sign', 'auth', 'juki', 'kenmen', 'common'];

/** `file:line:col` of a node of the source, for messages and reports. */
export type Where = string;

export interface Scenario {
  /** Path of the file, as given to the loader. */
  file: string;
  /** Index of the scenario in its file (a file holds one scenario, or a list under `scenarios:`). */
  index: number;
  version: 1;
  name: string;
  /** A requirement id (CLIENT-012, KIOSK-003), shown in reports. */
  id?: string;
  tags: string[];
  /** Allowed to spend the last tries of a physical card (with `--allow-destructive`). */
  destructive: boolean;
  card: CardSetup;
  steps: Step[];
  expect?: FinalExpect;
  where: Where;
}

/** The card a scenario starts with. */
export interface CardSetup {
  /** A generator variant (default adult), or a profile file (relative to the scenario file). */
  variant?: 'adult' | 'minor' | 'expired' | 'locked' | 'face-auth-only' | 'smartphone';
  profile?: string;
  /** Starting tries left per PIN (targets that can set counters), and the lock that follows from 0. */
  pins?: Partial<Record<PinKind, { triesLeft?: number }>>;
  /** Overrides of the profile's `behaviour` options (validated by the profile schema when built). */
  behaviour?: Record<string, unknown>;
}

export type Step = ClientStep | CardStep | EventStep | IssuerStep | WaitStep;

interface StepBase {
  /** Optional label for reports; the runner derives one otherwise. */
  name?: string;
  expect?: StepExpect;
  where: Where;
}

/** Runs a client of the manifest by capability name. */
export interface ClientStep extends StepBase {
  kind: 'client';
  client: string;
  /** Prompt → reply pairs: a reply is sent only after its prompt appeared, and never re-sent. */
  answers: Array<{ prompt: string; reply: string }>;
  /** Extra template variables for the binding (`{args.x}`). */
  args: Record<string, string>;
  timeoutMs?: number;
  /**
   * Starts the client and goes on with the next step (a `wait: { client: ... }` can wait on its output or
   * its end). Its expectations (exit, stdout, stderr, card, duration, the PIN leak check) are checked when
   * it has ended, at the end of the scenario, before the scenario's final expectations.
   */
  background?: boolean;
}

/** A direct card action through the harness's own flows (harness/flows), not a client. */
export interface CardStep extends StepBase {
  kind: 'card';
  action: CardAction;
}

export type CardAction =
  | { do: 'apdu'; hex: string }
  | { do: 'select'; app: AppName }
  | { do: 'query'; pin: PinKind }
  | { do: 'verify'; pin: PinKind; value: string }
  | { do: 'change'; pin: PinKind; value: string; newValue: string }
  | { do: 'read'; app: AppName; ef: string }
  | { do: 'sign'; key: 'auth' | 'sign'; value: string; data: string }
  | { do: 'flow'; flow: string };

export type AppName = 'jpki' | 'text' | 'face' | 'juki' | 'common';

/** Something happens to the card (targets that can do it; others make the scenario not applicable). */
export interface EventStep extends StepBase {
  kind: 'event';
  event: CardEvent;
}

export type CardEvent =
  | { type: 'remove' }
  | { type: 'insert' }
  | { type: 'reset' }
  /** Added latency per command, or only for one INS (hex string). */
  | { type: 'latency'; ms: number; ins?: string }
  /** The next command matching `match` is answered `sw` without reaching the card (`times` default 1). */
  | { type: 'inject-sw'; sw: string; match: ApduPattern; times: number }
  /** Power is lost right after the next retry counter write (the try is spent, nothing is answered). */
  | { type: 'power-loss-after-counter-write' }
  /** The next response is cut to `bytes` bytes. */
  | { type: 'cut-response'; bytes: number };

/** What the municipal counter does (out of band). */
export interface IssuerStep extends StepBase {
  kind: 'issuer';
  action: 'reset-counter' | 'set-pin' | 'reinit-sign-password';
  pin?: PinKind;
  value?: string;
}

/** Waits on a condition with a deadline (never a fixed sleep). */
export interface WaitStep extends StepBase {
  kind: 'wait';
  until: { card: CardExpect } | { trace: TraceExpect } | { client: ClientCondition };
  timeoutMs: number;
}

/**
 * A condition on the most recent background client started before the wait (`background: true`):
 * its output so far (stdout, stderr or the PTY transcript, masked, lines joined by newlines) matches,
 * and/or it has ended. Both given: both must hold.
 */
export interface ClientCondition {
  output?: TextMatch;
  exited?: true;
  /** Index in `steps` of the background client step waited on (the loader resolves it). */
  step: number;
}

export interface TextMatch {
  contains?: string[];
  notContains?: string[];
  /** A regular expression (JavaScript syntax, `u` flag). */
  matches?: string;
}

export interface StepExpect {
  exit?: number;
  stdout?: TextMatch;
  stderr?: TextMatch;
  /** The status word of a card action, 4 hex digits, `x` as a wildcard digit (`63Cx`). */
  sw?: string;
  card?: CardExpect;
  durationMs?: { min?: number; max?: number };
}

export type CardExpect = Partial<Record<PinKind, { triesLeft?: number; locked?: boolean }>>;

/** Matches one APDU exchange of the trace; every field given must match. Hex fields are strings. */
export interface ApduPattern {
  cla?: string;
  ins?: string;
  p1?: string;
  p2?: string;
  /** true: the command has data; false: it has none; a hex string: exactly that data (never PIN data). */
  data?: boolean | string;
  /** Status word of the response, `x` as a wildcard digit. */
  sw?: string;
}

export type TraceExpect =
  | { contains: ApduPattern }
  | { never: ApduPattern }
  | { inOrder: ApduPattern[] }
  | { count: ApduPattern; min?: number; max?: number }
  /** No command matching `then` after a response matching `after` (e.g. no VERIFY with data after 63 C1). */
  | { noneAfter: { after: ApduPattern; then: ApduPattern } };

export interface FinalExpect {
  card?: CardExpect;
  trace: TraceExpect[];
}

/** The client manifest (`clients.yaml`): capability name → binding. Kept apart from the scenarios. */
export interface ClientManifest {
  file: string;
  clients: Record<string, ClientBinding>;
}

export type ClientBinding = ExecBinding | ModuleBinding;

export interface ExecBinding {
  kind: 'exec';
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  timeoutMs: number;
  /** Run under a pseudo-terminal (clients that read a PIN from a TTY); default true when answers are given. */
  tty?: boolean;
  where: Where;
}

export interface ModuleBinding {
  kind: 'module';
  /** A TypeScript or JavaScript module (relative to the manifest) exporting `run(ctx)`. */
  module: string;
  /** Named export, default `run`. */
  export: string;
  timeoutMs: number;
  where: Where;
}
