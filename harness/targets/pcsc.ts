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
import type { SessionCapture } from '../session/capture.ts';
import type { CommandOrigin } from '../session/format.ts';
import { GuardedChannel, type GuardEvent, GuardRefused, isGuarded, type UnexpectedDrop } from './guard.ts';
import { allowList, checkCardAllowed, labPins, pickReader, readerRegex, TargetEnvironmentError } from './lab.ts';
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
  /** The current scenario's recorded session (`run --record`), or undefined. */
  private capture: SessionCapture | undefined;
  /**
   * Commands handed to the guard and not yet answered, in the guard's order (it serialises): what
   * reaches the card is one of them, the guard's query for the first of them, or the harness's own.
   */
  private readonly pending: Array<{ command: Uint8Array; by: CommandOrigin }> = [];

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
      this.readerName = await pickReader(this.ctx, this.readerRe, this.options.reader, this.timeoutMs);
      return undefined;
    } catch (err) {
      return err instanceof TargetEnvironmentError ? err.message : `PC/SC is not usable: ${(err as Error).message}`;
    }
  }

  /**
   * Connects (the first time) or warm-resets the card (later scenarios start from a fresh card
   * session, as on the simulator), then checks the card against the allow-list.
   */
  async prepare(
    setup: CardSetup,
    _baseDir: string,
    scenario: { destructive: boolean; capture?: SessionCapture } = { destructive: false },
  ): Promise<PreparedCard> {
    if (setup.pins || setup.behaviour) {
      throw new Error('a physical card cannot be set up with pins: or behaviour: (the runner reports such scenarios not applicable on pcsc)');
    }
    this.capture = scenario.capture;
    const guard = await this.connect();
    guard.setScenario(scenario);
    const hash = await this.checkAllowed(this.sentBy('harness', guard));
    this.capture?.identify({ atr: this.ctx?.readerState(this.readerName!)?.atr ?? '', reader: this.readerName, authCertSha256: hash });
    const trace: TraceEntry[] = [];
    // A refusal stops the run even when a client caught it (a module client that turns it into its
    // own exit code): the runner asks checkDrop after every step.
    let refused: Error | undefined;
    const remember = (err: unknown): never => {
      if (err instanceof GuardRefused) refused ??= err;
      throw err;
    };
    const client = this.sentBy('client', guard);
    return {
      channel: tracing({ transmit: (command) => client.transmit(command).catch(remember) }, trace),
      harnessChannel: tracing({ transmit: (command) => this.sentBy('harness', guard).transmit(command).catch(remember) }, trace),
      reader: this.clientReader(),
      pinValues: { ...this.pins },
      trace,
      counters: () => guard.counters(),
      checkDrop: (before, after, expected) => refused ?? guard.checkDrop(before, after, expected),
      event: () => Promise.reject(new Error('card events are not possible on a physical card (capability "events")')),
      issuer: () => Promise.reject(new Error('issuer actions are not possible on a physical card (capability "issuer")')),
      close: async () => {
        this.capture = undefined;
      },
    };
  }

  /** The guard's channel, telling the session recorder who sent each command. */
  private sentBy(by: CommandOrigin, guard: GuardedChannel): ApduChannel {
    return {
      transmit: async (command) => {
        const entry = { command, by };
        this.pending.push(entry);
        try {
          return await guard.transmit(command);
        } finally {
          this.pending.splice(this.pending.indexOf(entry), 1);
        }
      },
    };
  }

  /** Who sent a command that reaches the card (see {@link pending}); the guard's counters() are the harness's. */
  private originOf(command: Uint8Array): CommandOrigin {
    const head = this.pending[0];
    if (!head) return 'harness';
    if (head.command.length === command.length && head.command.every((b, i) => b === command[i])) return head.by;
    const isQuery = command.length === 4 && command[1] === 0x20 && command[2] === 0x00 && command[3] === head.command[3];
    return isQuery && isGuarded(head.command) ? 'guard' : 'harness';
  }

  /** The card's side of the guard: every exchange the card sees goes into the session, when one is recorded. */
  private recording(inner: ApduChannel): ApduChannel {
    return {
      transmit: async (command) => {
        const rec = this.capture?.recorder;
        if (!rec) return inner.transmit(command);
        const seq = rec.command(command, this.originOf(command));
        try {
          const response = await inner.transmit(command);
          rec.response(seq, response);
          return response;
        } catch (err) {
          rec.noResponse(seq, `the reader failed: ${(err as Error)?.message ?? err}`);
          throw err;
        }
      },
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
      this.capture?.recorder.power('reset');
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
    this.guard = new GuardedChannel(this.recording(pcscChannel(this.card)), {
      floor: this.options.floor,
      allowDestructive: this.options.allowDestructive,
      labPins: this.pins,
      onEvent: (event) => {
        this.capture?.recorder.guard(event);
        this.options.onGuardEvent?.(event);
      },
    });
    return this.guard;
  }

  /** Reads the auth certificate (no PIN needed) and refuses a card whose SHA-256 the lab did not allow; returns the hash. */
  private checkAllowed(channel: ApduChannel): Promise<string> {
    return checkCardAllowed(channel, this.allowList, this.readerName);
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
