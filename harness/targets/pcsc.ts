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
import type { ApduChannel } from '../../simulator/card/channel.ts';
import { openPcsc, type PcscCard, type PcscContext } from '../pcsc/index.ts';
import { pcscChannel } from '../pcsc/channel.ts';
import type { PinCounters } from '../runner/events.ts';
import type { CardExpect, CardSetup, PinKind } from '../scenario/model.ts';
import { GuardedChannel, type GuardEvent, GuardRefused, type UnexpectedDrop } from './guard.ts';
import { allowList, checkCardAllowed, labPins, matchOneReader, readerRegex, TargetEnvironmentError } from './lab.ts';
import type { Capability, PreparedCard, Target, TraceEntry } from './target.ts';

export { CardNotAllowed, TargetEnvironmentError } from './lab.ts';

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
    this.pins = labPins(options.env ?? process.env, options.pinsFile, 'the pcsc target') as Record<PinKind, string>;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** The one reader the regex matches, or why not (no pcscd, none, two or more). */
  async check(): Promise<string | undefined> {
    try {
      this.ctx ??= await openPcsc();
      const readers = await this.ctx.listReaders({ timeoutMs: this.timeoutMs });
      const match = matchOneReader(readers, this.readerRe, this.options.reader);
      if ('error' in match) return match.error;
      this.readerName = match.reader;
      return undefined;
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
    await checkCardAllowed(channel, this.allowList, this.readerName);
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
