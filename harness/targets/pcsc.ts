/**
 * The `pcsc` target: a physical test card in a real reader, reached through the project's PC/SC client
 * (harness/pcsc). Physical runs are opt-in and bound to one reader and one card (issue 8, "Targets"):
 *
 * - `--reader <regex>` must match exactly one reader; none or two is an environment error (exit 3)
 *   listing the readers.
 * - Before anything else the card's auth certificate (EF 000A of the JPKI AP, readable without a PIN,
 *   docs/card.md §3.1) is read and its SHA-256 must be in the lab's allow-list (`--allow-card`, or a file
 *   of them); otherwise {@link CardNotAllowed} (exit 4).
 * - Every exchange goes through the guard (./guard.ts): no PIN command reaches the card without its
 *   tries left being read first, and none at or below the floor.
 * - PIN values come from the environment (MYNA_HIL_PIN_AUTH, _SIGN, _JUKI, _KENMEN, optionally _COMMON)
 *   or a local file (`--pins <file>`), never from scenario text; the runner masks them in every output.
 *
 * What cannot be done to a physical card (set a counter, override behaviour, remove it, inject faults,
 * issuer actions) is not among the capabilities, so the runner reports those scenarios "not applicable
 * on this target". Exec clients come later through a relay: a vpcd card side that forwards each command
 * to {@link PcscTarget}'s guarded channel, so that third-party programs also pass the guard (they must
 * never reach the physical reader directly). It slots in at {@link PcscTarget.clientReader}: the relay's
 * vpcd reader becomes PreparedCard.reader and `exec-clients` joins the capabilities.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { toHex } from '../../simulator/apdu/codec.ts';
import type { ApduChannel } from '../../simulator/card/channel.ts';
import { InputError } from '../../simulator/errors.ts';
import { userPinValueProblem } from '../../simulator/pin/rules.ts';
import { AID, EF, sha256 } from '../flows/card-ref.ts';
import { FlowSession } from '../flows/spec-flows.ts';
import { openPcsc, type PcscCard, type PcscContext } from '../pcsc/index.ts';
import { pcscChannel } from '../pcsc/channel.ts';
import type { PinCounters } from '../runner/events.ts';
import type { CardExpect, CardSetup, PinKind } from '../scenario/model.ts';
import { GUARD_EXIT_CODE, GuardedChannel, type GuardEvent, GuardRefused, type UnexpectedDrop } from './guard.ts';
import type { Capability, PreparedCard, Target, TraceEntry } from './target.ts';

/** The environment cannot run the target (no pcscd, no such reader, no card): exit code 3. */
export class TargetEnvironmentError extends Error {
  readonly exitCode = 3;
  constructor(message: string) {
    super(message);
    this.name = 'TargetEnvironmentError';
  }
}

/** The card in the reader is not one the lab allowed: exit code 4, before any scenario runs. */
export class CardNotAllowed extends Error {
  readonly exitCode = GUARD_EXIT_CODE;
  constructor(
    message: string,
    /** SHA-256 of the card's auth certificate (hex), when it could be read. */
    readonly sha256?: string,
  ) {
    super(message);
    this.name = 'CardNotAllowed';
  }
}

export interface PcscTargetOptions {
  /** `--reader`: a regular expression that must match exactly one reader name. */
  reader: string;
  /** `--allow-card` values: SHA-256 (hex) of allowed cards' auth certificates. */
  allowCards?: string[];
  /** A file of them: one a line, `#` starts a comment. */
  allowCardsFile?: string;
  /** `--pins`: a local file of the card's PIN values, JSON (`{"auth": "…"}`) or KEY=VALUE lines. */
  pinsFile?: string;
  /** Where MYNA_HIL_PIN_* are read (default process.env). */
  env?: Record<string, string | undefined>;
  /** `--allow-destructive`. */
  allowDestructive?: boolean;
  /** The guard's floor (default 2 tries left). */
  floor?: number;
  /** Deadline for the reader list and for a card to be present. Default 10 000 ms. */
  timeoutMs?: number;
  /** What the guard did (allowed, refused, drops), for the runner's log. */
  onGuardEvent?: (event: GuardEvent) => void;
}

const REQUIRED_PINS: readonly PinKind[] = ['auth', 'sign', 'juki', 'kenmen'];
const envName = (pin: PinKind) => `MYNA_HIL_PIN_${pin.toUpperCase()}`;
const SHA256_RE = /^[0-9a-f]{64}$/;

export class PcscTarget implements Target {
  readonly kind = 'pcsc';
  readonly capabilities: ReadonlySet<Capability> = new Set<Capability>(['module-clients']);
  private readonly readerRe: RegExp;
  private readonly allowList: ReadonlySet<string>;
  private readonly pins: Record<PinKind, string>;
  private readonly timeoutMs: number;
  private ctx: PcscContext | undefined;
  private readerName: string | undefined;
  private card: PcscCard | undefined;
  private guard: GuardedChannel | undefined;

  /** Throws InputError (exit 2) for a bad regex, allow-list or PIN source, before touching PC/SC. */
  constructor(private readonly options: PcscTargetOptions) {
    this.readerRe = readerRegex(options.reader);
    this.allowList = allowList(options.allowCards ?? [], options.allowCardsFile);
    this.pins = labPins(options.env ?? process.env, options.pinsFile);
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** The one reader the regex matches, or why not (no pcscd, none, two or more). */
  async check(): Promise<string | undefined> {
    try {
      this.ctx ??= await openPcsc();
      const readers = await this.ctx.listReaders({ timeoutMs: this.timeoutMs });
      const matching = readers.filter((r) => this.readerRe.test(r));
      if (matching.length === 1) {
        this.readerName = matching[0];
        return undefined;
      }
      const found = matching.length === 0 ? 'matches no reader' : `matches ${matching.length} readers (${matching.map((r) => `"${r}"`).join(', ')})`;
      const all = readers.length ? readers.map((r) => `"${r}"`).join(', ') : 'none';
      return `--reader /${this.options.reader}/ ${found}; it must match exactly one (readers: ${all})`;
    } catch (err) {
      return `PC/SC is not usable: ${(err as Error).message}`;
    }
  }

  /**
   * Connects (the first time) or warm-resets the card (later scenarios start from a fresh card
   * session, as on the simulator), then checks the card against the allow-list.
   */
  async prepare(setup: CardSetup, _baseDir: string, scenario: { destructive: boolean } = { destructive: false }): Promise<PreparedCard> {
    if (setup.pins || setup.behaviour) {
      throw new Error('a physical card cannot be set up with pins: or behaviour: (the runner reports such scenarios not applicable on pcsc)');
    }
    const guard = await this.connect();
    guard.setScenario(scenario);
    await this.checkAllowed(guard);
    const trace: TraceEntry[] = [];
    // A refusal stops the run even when a client caught it (a module client that turns it into its
    // own exit code): the runner asks checkDrop after every step.
    let refused: Error | undefined;
    const remember = (err: unknown): never => {
      if (err instanceof GuardRefused) refused ??= err;
      throw err;
    };
    return {
      channel: tracing({ transmit: (command) => guard.transmit(command).catch(remember) }, trace),
      reader: this.clientReader(),
      pinValues: { ...this.pins },
      trace,
      counters: () => guard.counters(),
      checkDrop: (before, after, expected) => refused ?? guard.checkDrop(before, after, expected),
      event: () => Promise.reject(new Error('card events are not possible on a physical card (capability "events")')),
      issuer: () => Promise.reject(new Error('issuer actions are not possible on a physical card (capability "issuer")')),
      close: async () => {},
    };
  }

  /**
   * For the runner, around each step: the PIN whose count dropped in a way `expected` does not name
   * (GuardedChannel.checkDrop), as an error that stops the run with exit code 4; undefined otherwise.
   */
  checkDrop(before: PinCounters, after: PinCounters, expected?: CardExpect): UnexpectedDrop | undefined {
    return this.guard?.checkDrop(before, after, expected);
  }

  async close(): Promise<void> {
    const ctx = this.ctx;
    this.ctx = undefined;
    this.card = undefined;
    this.guard = undefined;
    await ctx?.close();
  }

  /**
   * The reader name clients are given: the physical reader for module clients (informational, they
   * get the guarded channel). A relay for exec clients returns its vpcd reader here instead.
   */
  protected clientReader(): string | undefined {
    return this.readerName;
  }

  private async connect(): Promise<GuardedChannel> {
    if (this.card && this.guard) {
      await this.card.reconnect('reset');
      this.guard.forgetSelection();
      return this.guard;
    }
    if (!this.readerName) {
      const why = await this.check();
      if (why) throw new TargetEnvironmentError(why);
    }
    const ctx = this.ctx!;
    const reader = this.readerName!;
    try {
      await ctx.waitForCard(reader, 'present', { timeoutMs: this.timeoutMs });
      // exclusive: no other program may send PIN commands to the card behind the guard's back
      this.card = await ctx.connect(reader, { share: 'exclusive' });
    } catch (err) {
      throw new TargetEnvironmentError(`no usable card in "${reader}": ${(err as Error).message}`);
    }
    this.guard = new GuardedChannel(pcscChannel(this.card), {
      floor: this.options.floor,
      allowDestructive: this.options.allowDestructive,
      labPins: this.pins,
      onEvent: this.options.onGuardEvent,
    });
    return this.guard;
  }

  /** Reads the auth certificate (no PIN needed) and refuses a card whose SHA-256 the lab did not allow. */
  private async checkAllowed(channel: ApduChannel): Promise<void> {
    const session = new FlowSession(channel);
    let der: Uint8Array;
    try {
      await session.selectAp(AID.jpki);
      await session.selectEf(EF.jpki.authCert);
      der = await session.readCertificate();
      new X509Certificate(der); // a card that answers garbage is not identified by its hash
    } catch (err) {
      const failed = session.checks.filter((c) => !c.ok).map((c) => `${c.what} (${c.detail ?? ''})`);
      throw new CardNotAllowed(`card not allowed: its auth certificate (JPKI EF 000A) cannot be read: ${failed.join('; ') || (err as Error).message}`);
    }
    const hash = toHex(sha256(der)).toLowerCase();
    if (!this.allowList.has(hash)) {
      throw new CardNotAllowed(
        `card not allowed: the auth certificate of the card in "${this.readerName}" has SHA-256 ${hash}, which is not in the allow-list ` +
          '(if it is a test card of this lab, add it with --allow-card <sha256> or to the allow-list file)',
        hash,
      );
    }
  }
}

/** Records every exchange the harness and clients make (the guard's own queries are not theirs). */
function tracing(inner: ApduChannel, trace: TraceEntry[]): ApduChannel {
  return {
    async transmit(command) {
      const t0 = performance.now();
      const response = await inner.transmit(command);
      trace.push({ command: command.slice(), response, ms: performance.now() - t0 });
      return response;
    },
  };
}

export function readerRegex(source: string): RegExp {
  try {
    return new RegExp(source);
  } catch (err) {
    throw new InputError(
      `--reader ${source}: not a regular expression (${(err as Error).message}); fix: give a JavaScript regular expression matching one reader name`,
    );
  }
}

function readText(option: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`${option} ${path}: cannot read it: ${code === 'ENOENT' ? 'no such file' : (err as Error).message} (fix: give a readable file)`);
  }
}

function allowList(values: string[], file: string | undefined): ReadonlySet<string> {
  const out = new Set<string>();
  const add = (raw: string, where: string) => {
    const v = raw.trim().toLowerCase();
    if (!SHA256_RE.test(v))
      throw new InputError(`${where}: "${raw.trim()}" is not a SHA-256 (fix: 64 hex digits, the SHA-256 of the card's auth certificate DER)`);
    out.add(v);
  };
  for (const v of values) add(v, '--allow-card');
  if (file !== undefined) {
    readText('--allow-cards-file', file)
      .split('\n')
      .forEach((line, i) => {
        const v = line.replace(/#.*/, '').trim();
        if (v) add(v, `${file}:${i + 1}`);
      });
  }
  return out;
}

/** The lab's PIN values: the file's over the environment's; each checked against its format. */
function labPins(env: Record<string, string | undefined>, file: string | undefined): Record<PinKind, string> {
  const found = new Map<PinKind, { value: string; source: string }>();
  for (const pin of [...REQUIRED_PINS, 'common'] as PinKind[]) {
    const v = env[envName(pin)];
    if (v !== undefined && v !== '') found.set(pin, { value: v, source: `the environment variable ${envName(pin)}` });
  }
  if (file !== undefined) for (const [pin, entry] of readPinsFile(file)) found.set(pin, entry);
  const missing = REQUIRED_PINS.filter((p) => !found.has(p));
  if (missing.length) {
    throw new InputError(
      `the pcsc target needs the lab's value of each PIN of the card; missing: ${missing.join(', ')} ` +
        `(fix: set ${missing.map(envName).join(', ')}, or give --pins <file> with ${missing.map((p) => `${p}=…`).join(', ')})`,
    );
  }
  // 共通カードAP 001C is usually set to the 住基 value (docs/card.md §3.5, §4.3)
  if (!found.has('common')) found.set('common', { ...found.get('juki')!, source: `${found.get('juki')!.source} (juki, for common)` });
  for (const [pin, { value, source }] of found) {
    const problem = userPinValueProblem(pin, value);
    if (problem) throw new InputError(`${source}: ${problem} (fix: give the card's value of the ${pin} PIN)`);
  }
  return Object.fromEntries([...found].map(([pin, e]) => [pin, e.value])) as Record<PinKind, string>;
}

const PIN_KEY_RE = /^(?:MYNA_HIL_PIN_)?(AUTH|SIGN|JUKI|KENMEN|COMMON)$/i;

/** `{"auth": "…"}` or `auth=…` / `MYNA_HIL_PIN_AUTH=…` lines (`#` comments). Messages never show a value. */
function readPinsFile(file: string): Map<PinKind, { value: string; source: string }> {
  const text = readText('--pins', file);
  const out = new Map<PinKind, { value: string; source: string }>();
  const put = (key: string, value: unknown, where: string) => {
    const m = PIN_KEY_RE.exec(key.trim());
    if (!m) throw new InputError(`${where}: unknown key "${key.trim()}" (fix: one of auth, sign, juki, kenmen, common, or MYNA_HIL_PIN_AUTH …)`);
    if (typeof value !== 'string') throw new InputError(`${where}: the value of ${key.trim()} must be a string (fix: quote it, "0123")`);
    out.set(m[1].toLowerCase() as PinKind, { value, source: where });
  };
  if (text.trimStart().startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      // the parser's message quotes the text around the error, which may be a PIN: only its position
      const at = /position (\d+)/.exec((err as Error).message);
      throw new InputError(`${file}: not valid JSON${at ? ` (at character ${at[1]})` : ''}; fix: {"auth": "…", "sign": "…"} or KEY=VALUE lines`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InputError(`${file}: expected a JSON object of PIN values`);
    for (const [k, v] of Object.entries(json)) put(k, v, `${file} field ${k}`);
    return out;
  }
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!line.trim() || line.trimStart().startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq < 0) throw new InputError(`${file}:${i + 1}: expected KEY=VALUE (fix: auth=…, one PIN a line)`);
    // a value may be quoted as in a .env file; PIN values never contain blanks or quotes
    put(
      line.slice(0, eq),
      line
        .slice(eq + 1)
        .trim()
        .replace(/^(["'])(.*)\1$/, '$2'),
      `${file}:${i + 1}`,
    );
  });
  return out;
}
