/**
 * The relay (issue 9): a virtual reader (a vpcd slot) in front of a physical reader. Every APDU a client
 * sends to `Virtual PCD 00 0N` is forwarded to the physical card through the project's PC/SC client,
 * through the guard (harness/targets/guard.ts), recorded when asked, and the answer returned. Power and
 * removal are mirrored; docs/relay.md says what clients see.
 *
 * One queue carries everything that reaches the physical card: client APDUs (from vpcd, which has one
 * message in flight), the harness's own exchanges ({@link Relay.channel}, counters), power mirroring,
 * insertion and removal. So the guard's query and the command it guards are never split by another
 * caller, and a recorded session is in the order the card saw.
 *
 * A physical transmit that fails (the card pulled mid-APDU, 0 bytes back) closes the vpcd connection
 * (a `PowerLoss`, simulator/transport/vpcd/messages.ts) rather than answering 6F 00: the client then sees
 * what a dying card looks like on a real reader (an empty answer, then a removal), 6F 00 would be an
 * answer the card never gave, and silence would freeze vpcd. The virtual card stays out until the
 * physical card is back and allowed again.
 */
import { toHex } from '../../simulator/apdu/codec.ts';
import type { ApduChannel } from '../../simulator/card/channel.ts';
import type { AsyncSmartCard } from '../../simulator/card/types.ts';
import { InputError } from '../../simulator/errors.ts';
import { VpcdTransport } from '../../simulator/transport/vpcd/transport.ts';
import { HARNESS_VERSION } from '../version.ts';
import { type CardHandle, connectDirect, DirectIoUnavailable } from '../pcsc/direct.ts';
import { openPcsc, type PcscContext, vpcdReaderName } from '../pcsc/index.ts';
import type { PinCounters } from '../runner/events.ts';
import type { PinKind } from '../scenario/model.ts';
import type { CommandOrigin } from '../session/format.ts';
import { type SessionSink, SessionRecorder } from '../session/recorder.ts';
import { GuardedChannel, type GuardEvent, GuardRefused } from '../targets/guard.ts';
import { allowList, CardNotAllowed, checkCardAllowed, labPins, pickReader, readerRegex, TargetEnvironmentError } from '../targets/lab.ts';
import type { TraceEntry } from '../targets/target.ts';

/** `69 83` (authentication method blocked): what a client gets for a command the guard refused. */
export const DEFAULT_REFUSE_SW = 0x6983;

/**
 * The refusal status word as the 2 bytes of the answer; InputError unless it is an error status word
 * (6xxx) a client takes as final: not 61xx or 6Cxx, which would make it send GET RESPONSE or resend,
 * and not 60xx, which is no status word at all (ISO/IEC 7816-4 §5.1.3; in T=0, 60 is a NULL byte).
 */
export function refuseReply(sw: number): Uint8Array {
  const sw1 = sw >> 8;
  if (!Number.isInteger(sw) || sw1 < 0x62 || sw1 > 0x6f || sw1 === 0x6c)
    throw new InputError(
      `--refuse-sw ${sw.toString(16)}: the refusal must be an error status word 6xxx other than 60xx, 61xx and 6Cxx (fix: --refuse-sw 6983)`,
    );
  return Uint8Array.of(sw >> 8, sw & 0xff);
}

/** The vpcd slot (default 0); InputError unless 0..15 (vpcd's readers `Virtual PCD 00 00` … `00 15`). */
export function checkSlot(slot: number | undefined): number {
  const n = slot ?? 0;
  if (!Number.isInteger(n) || n < 0 || n > 15) throw new InputError(`--slot ${slot}: a vpcd slot is 0..15 (fix: --slot 0)`);
  return n;
}

export interface RelayOptions {
  /** A regular expression that must match exactly one reader (the relay's own virtual reader excluded). */
  reader: string;
  /** The vpcd slot clients use: reader `Virtual PCD 00 0N`. Default 0. */
  slot?: number;
  /** SHA-256 (hex) of allowed cards' auth certificates, and a file of them (one a line, `#` comments). */
  allowCards?: string[];
  allowCardsFile?: string;
  /**
   * The lab's PIN values (the guard's lab-value exception). Default: read from `pinsFile` and the
   * environment (MYNA_HIL_PIN_*), each optional: without them the exception never applies.
   */
  labPins?: Partial<Record<PinKind, string>>;
  pinsFile?: string;
  env?: Record<string, string | undefined>;
  /** The guard's floor (default 2 tries left) and `--allow-destructive`. */
  floor?: number;
  allowDestructive?: boolean;
  /** The status word a refused command is answered with. Default {@link DEFAULT_REFUSE_SW}. */
  refuseSw?: number;
  /**
   * Where the session is recorded (JSON Lines, harness/session/format.ts): the relay writes the header
   * (the first allowed card) and closes the sink at stop. Nothing when absent (see also `recorder`).
   */
  record?: SessionSink;
  /**
   * A recorder to record into from the start, the first card's allow-list check included: its header
   * is the caller's (the runner's SessionCapture, identified once {@link Relay.identity} is known) and so
   * is closing it. {@link Relay.record} switches to another one later.
   */
  recorder?: SessionRecorder;
  /** Every exchange of the clients and the harness (not the guard's queries), for the runner. */
  trace?: TraceEntry[];
  /** Deadline for the reader list and for the first card. Default 10 000 ms. */
  timeoutMs?: number;
  /**
   * How the physical card is opened. `exclusive` (the default, and the only one the CLI offers): no
   * other program can reach the card behind the guard's back. `shared` is for the relay benchmark
   * (bench/relay.ts), which times the direct path to the same card in the same run.
   */
  share?: 'exclusive' | 'shared';
  /**
   * How APDUs reach the physical card. `async` (the default): the `pcsclite` binding, which keeps the
   * process responsive. `sync`: libpcsclite called directly through koffi (harness/pcsc/direct.ts),
   * about 90 µs faster per APDU, but the process waits while the card works: only for a process that
   * does nothing else (`myna-hil relay`), never one that also serves the card it calls. Falls back to
   * `async` (with an 'error' event saying why) when koffi is missing.
   */
  io?: 'async' | 'sync';
  /** Where vpcd is (tests and benchmarks); default Debian's vpcd on 127.0.0.1:35963 + slot. */
  vpcd?: { host?: string; basePort?: number };
  onEvent?: (event: RelayEvent) => void;
}

/** What the relay did, for logs (never a PIN value: guard events carry redacted commands). */
export type RelayEvent =
  | { type: 'inserted'; atr: string; authCertSha256: string }
  | { type: 'removed'; reason: string }
  | { type: 'not-allowed'; message: string }
  | { type: 'power'; what: 'power-on' | 'power-off' | 'reset' }
  | { type: 'guard'; event: GuardEvent }
  | { type: 'error'; message: string };

export interface Relay {
  readonly physicalReader: string;
  readonly virtualReader: string;
  readonly slot: number;
  /** The harness's own channel to the physical card: the same guard and handle, queued with client traffic. */
  readonly channel: ApduChannel;
  /** The guard (its scenario flag, checkDrop). */
  readonly guard: GuardedChannel;
  /** Every refusal so far (guard refusals of client and harness commands), in order. */
  readonly refusals: readonly GuardRefused[];
  /** Cards that were put in the physical reader and not allowed (kept out). */
  readonly notAllowed: readonly CardNotAllowed[];
  /** Tries left per PIN, read with queries on the harness channel. */
  counters(): Promise<PinCounters>;
  /** The card being relayed: its ATR and the SHA-256 of its auth certificate (from its allow-list check). */
  identity(): { atr: Uint8Array; authCertSha256: string } | undefined;
  /**
   * Records from now on into `recorder` (undefined: records nothing), after the exchanges already
   * queued: the runner gives each scenario its own session. The caller closes the recorders it gives;
   * the relay closes only the one it made for `record`.
   */
  record(recorder: SessionRecorder | undefined): Promise<void>;
  /** Warm-resets the physical card (and checks it against the allow-list again). */
  resetCard(): Promise<void>;
  /** Resolves once pcscd shows the virtual card present in the relay's reader. */
  waitVisible(timeoutMs?: number): Promise<void>;
  /** Removes the virtual card, releases the physical card ('leave'), closes the context. Idempotent. */
  stop(): Promise<void>;
}

const powerLoss = (why: string): Error => Object.assign(new Error(why), { name: 'PowerLoss' });

/**
 * Starts a relay: the one physical reader, its card connected EXCLUSIVE and checked against the
 * allow-list before anything is relayed, then the virtual card inserted. Throws InputError (bad
 * options, exit 2), TargetEnvironmentError (no pcscd, no such reader, no card: exit 3) or
 * CardNotAllowed (exit 4; nothing relayed, no virtual card).
 */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  const relay = new RelayImpl(options);
  try {
    await relay.start();
  } catch (err) {
    await relay.stop().catch(() => {});
    throw err;
  }
  return relay;
}

/**
 * The one physical reader the regex matches, the relay's own virtual reader excluded (a relay to itself
 * would loop); throws an Error naming the readers when there is none or several, or no virtual reader.
 */
export async function choosePhysicalReader(ctx: PcscContext, re: RegExp, source: string, virtualReader: string, timeoutMs: number): Promise<string> {
  const readers = await ctx.listReaders({ timeoutMs });
  if (!readers.includes(virtualReader)) throw new Error(`pcscd has no reader "${virtualReader}" for the relay's virtual card (is vpcd installed and started?)`);
  return pickReader(ctx, re, source, timeoutMs, virtualReader);
}

class RelayImpl implements Relay {
  readonly slot: number;
  readonly virtualReader: string;
  physicalReader = '';
  readonly guard: GuardedChannel;
  readonly refusals: GuardRefused[] = [];
  readonly notAllowed: CardNotAllowed[] = [];
  private readonly readerRe: RegExp;
  private readonly allowed: ReadonlySet<string>;
  private readonly refuseReply: Uint8Array;
  private readonly timeoutMs: number;
  private ctx: PcscContext | undefined;
  private handle: CardHandle | undefined;
  private atrBytes: Uint8Array = new Uint8Array(0);
  private transport: VpcdTransport<AsyncSmartCard> | undefined;
  private recorder: SessionRecorder | undefined;
  /** The recorder made for `options.record` (closed at stop), once the first card is known. */
  private own: SessionRecorder | undefined;
  private authCertSha256: string | undefined;
  /** The first card's allow-list check, before the recorder (whose header needs its result) exists. */
  private early: Array<{ command: Uint8Array; response: Uint8Array; by: CommandOrigin }> | undefined;
  private serving = false;
  /** POWER OFF was mirrored (a cold reset) and nothing reached the card since: POWER ON need not reset again. */
  private poweredOff = false;
  private stopped = false;
  private present = false;
  private unsubscribe: (() => void) | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  /** The exchange in progress: who sent it and which command is theirs (any other one is the guard's query). */
  private by: CommandOrigin = 'harness';
  private current: Uint8Array | undefined;
  private pendingGuard: GuardEvent[] = [];

  constructor(private readonly options: RelayOptions) {
    this.slot = checkSlot(options.slot);
    this.virtualReader = vpcdReaderName(this.slot);
    this.readerRe = readerRegex(options.reader);
    this.allowed = allowList(options.allowCards ?? [], options.allowCardsFile);
    this.refuseReply = refuseReply(options.refuseSw ?? DEFAULT_REFUSE_SW);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.guard = new GuardedChannel(
      { transmit: (command) => this.physical(command) },
      {
        floor: options.floor,
        allowDestructive: options.allowDestructive,
        labPins: options.labPins ?? labPins(options.env ?? process.env, options.pinsFile),
        onEvent: (e) => this.onGuard(e),
      },
    );
    this.recorder = options.recorder;
    if (options.record && !options.recorder) this.early = [];
  }

  readonly channel: ApduChannel = { transmit: (command) => this.serial(() => this.forward(command, 'harness')) };

  counters(): Promise<PinCounters> {
    return this.serial(async () => {
      this.by = 'harness';
      this.current = undefined;
      return this.guard.counters();
    });
  }

  identity(): { atr: Uint8Array; authCertSha256: string } | undefined {
    return this.handle && this.authCertSha256 ? { atr: this.atrBytes, authCertSha256: this.authCertSha256 } : undefined;
  }

  record(recorder: SessionRecorder | undefined): Promise<void> {
    return this.serial(async () => {
      this.flushGuard(); // events of the session that ends go into it
      this.recorder = recorder;
    });
  }

  resetCard(): Promise<void> {
    return this.serial(async () => {
      if (!this.handle) throw new TargetEnvironmentError(`no card in "${this.physicalReader}"`);
      await this.mirrorPower('reset');
      this.authCertSha256 = await this.check();
    });
  }

  async waitVisible(timeoutMs = this.timeoutMs): Promise<void> {
    await this.ctx!.waitForCard(this.virtualReader, 'present', { timeoutMs });
  }

  async start(): Promise<void> {
    try {
      this.ctx = await openPcsc();
      this.physicalReader = await choosePhysicalReader(this.ctx, this.readerRe, this.options.reader, this.virtualReader, this.timeoutMs);
      const own = await this.ctx.waitForReader(this.virtualReader, { timeoutMs: this.timeoutMs });
      if (own.present)
        throw new Error(`a card is already in "${this.virtualReader}" (another myna-hil serve or relay on slot ${this.slot}?); stop it or use another --slot`);
      await this.ctx.waitForCard(this.physicalReader, 'present', { timeoutMs: this.timeoutMs });
    } catch (err) {
      throw err instanceof TargetEnvironmentError ? err : new TargetEnvironmentError(`the relay cannot start: ${(err as Error).message}`);
    }
    this.present = true;
    await this.serial(() => this.attach(true));
    this.transport = new VpcdTransport<AsyncSmartCard>({
      card: this.virtualCard,
      slot: this.slot,
      host: this.options.vpcd?.host,
      basePort: this.options.vpcd?.basePort,
      logger: { info: () => {}, warn: (m) => this.emit({ type: 'error', message: m }) },
    });
    await this.transport.start();
    this.unsubscribe = this.ctx.onStatus((s) => {
      if (s.reader !== this.physicalReader) return;
      const present = s.present && !s.mute;
      if (present === this.present) return; // in-use / exclusive flags: not a card event
      this.present = present;
      void this.serial(() => (present ? this.attach(false) : this.detach('the card was removed from the physical reader')));
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    await this.transport?.stop();
    await this.serial(async () => {
      const h = this.handle;
      this.handle = undefined;
      await h?.disconnect('leave').catch(() => {});
    });
    this.own?.close();
    await this.ctx?.close();
  }

  // ---- the virtual card vpcd serves -------------------------------------------------------------

  private readonly virtualCard: AsyncSmartCard = {
    atr: () => this.atrBytes,
    // POWER OFF is mirrored at once as a cold reset (the physical card cannot stay unpowered while the
    // relay holds it): whatever reaches the card before the next POWER ON (the harness's own commands)
    // then finds what a card just powered finds, as a replay's simulator does after `power-off`. The
    // POWER ON that follows needs no second reset. Queued like everything else: pcscd sends it when it
    // likes (idle power-off, a client leaving with UNPOWER), and in the middle of the harness's exchanges
    // it would split a command from its response in the session.
    powerDown: () => this.serial(() => this.mirrorPower('power-off')),
    powerUp: () => this.serial(() => this.mirrorPower('power-on')),
    reset: () => this.serial(() => this.mirrorPower('reset')),
    transmit: (command) => this.serial(() => this.forward(command, 'client')),
  };

  // ---- the physical side (every method below runs inside the queue) -----------------------------

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** One command of a client or the harness, through the guard. */
  private async forward(command: Uint8Array, by: CommandOrigin): Promise<Uint8Array> {
    this.by = by;
    this.current = command;
    const t0 = this.options.trace ? performance.now() : 0;
    try {
      const response = await this.guard.transmit(command);
      this.options.trace?.push({ command: command.slice(), response, ms: performance.now() - t0 });
      return response;
    } catch (err) {
      if (err instanceof GuardRefused) return this.refused(command, by, err);
      if (by === 'harness') throw err;
      throw powerLoss(`the physical card did not answer: ${(err as Error).message}`);
    } finally {
      this.current = undefined;
      this.flushGuard();
    }
  }

  private refused(command: Uint8Array, by: CommandOrigin, err: GuardRefused): Uint8Array {
    this.refusals.push(err);
    const rec = this.recorder;
    if (rec) {
      const seq = rec.command(command, by);
      this.flushGuard();
      rec.response(seq, this.refuseReply, 'guard');
    }
    this.options.trace?.push({ command: command.slice(), response: this.refuseReply, ms: 0 });
    if (by === 'client') return this.refuseReply;
    throw err;
  }

  /** What reaches the physical card: recorded with its origin; a failure makes the card lost. */
  private async physical(command: Uint8Array): Promise<Uint8Array> {
    const h = this.handle;
    if (!h) throw new Error(`no card in "${this.physicalReader}"`);
    this.poweredOff = false; // the card is in use again: the next POWER ON resets it
    const by = this.current === undefined || this.current === command ? this.by : 'guard';
    const rec = this.recorder;
    let seq = 0;
    if (rec) {
      this.flushGuard(); // an 'allowed' event comes between the guard's query and the command
      seq = rec.command(command, by);
    }
    let response: Uint8Array;
    try {
      response = await h.transmit(command);
    } catch (err) {
      rec?.noResponse(seq, (err as Error).message);
      this.lost((err as Error).message);
      throw err;
    }
    if (response.length < 2) {
      const why = `the card answered ${response.length} bytes (it died mid-command or was removed)`;
      rec?.noResponse(seq, why);
      this.lost(why);
      throw new Error(why);
    }
    if (rec) rec.response(seq, response);
    else this.early?.push({ command: command.slice(), response, by });
    return response;
  }

  private onGuard(event: GuardEvent): void {
    this.emit({ type: 'guard', event });
    if (this.recorder) this.pendingGuard.push(event);
  }

  private flushGuard(): void {
    if (!this.pendingGuard.length) return;
    for (const e of this.pendingGuard) this.recorder?.guard(e);
    this.pendingGuard = [];
  }

  /**
   * vpcd POWER OFF: cold reset (reconnect 'unpower'); POWER ON: cold reset, unless the card was
   * powered off since its last use (it is fresh already); RESET: warm reset (reconnect 'reset').
   */
  private async mirrorPower(what: 'power-on' | 'power-off' | 'reset'): Promise<void> {
    const h = this.handle;
    this.guard.forgetSelection();
    if (!h || !this.serving) return;
    this.recorder?.power(what);
    this.emit({ type: 'power', what });
    const fresh = this.poweredOff;
    this.poweredOff = what === 'power-off';
    if (what === 'power-on' && fresh) return;
    try {
      await h.reconnect(what === 'reset' ? 'reset' : 'unpower');
      const atr = this.ctx!.readerState(this.physicalReader)?.atr;
      if (atr?.length) this.atrBytes = atr;
    } catch (err) {
      this.lost(`${what} of the physical card failed: ${(err as Error).message}`);
      throw err;
    }
  }

  /** A physical failure: the virtual card goes out, and comes back only after the card is checked again. */
  private lost(why: string): void {
    if (!this.serving) return;
    void this.serial(async () => {
      await this.detach(why);
      if (this.ctx?.readerState(this.physicalReader)?.present) await this.attach(false);
    });
  }

  /** Reads the auth certificate (by 'harness') and throws CardNotAllowed unless the lab allowed it. */
  private async check(): Promise<string> {
    this.by = 'harness';
    this.current = undefined;
    const direct: ApduChannel = { transmit: (c) => this.guard.transmit(c) };
    return checkCardAllowed(direct, this.allowed, this.physicalReader);
  }

  /**
   * A card in the physical reader: connect EXCLUSIVE (no program reaches it behind the guard), check it,
   * then insert the virtual card. The first card's failures are thrown (startRelay fails); a later
   * card that is not allowed stays out, with a message.
   */
  private async attach(first: boolean): Promise<void> {
    if (this.handle || this.stopped) return;
    const ctx = this.ctx!;
    try {
      this.handle = await this.connectCard(ctx);
    } catch (err) {
      const message = `cannot connect to the card in "${this.physicalReader}": ${(err as Error).message}`;
      if (first) throw new TargetEnvironmentError(message);
      this.emit({ type: 'error', message });
      return;
    }
    this.atrBytes = ctx.readerState(this.physicalReader)?.atr ?? new Uint8Array(0);
    this.guard.forgetSelection();
    let hash: string;
    try {
      hash = await this.check();
    } catch (err) {
      const h = this.handle;
      this.handle = undefined;
      await h?.disconnect('leave').catch(() => {});
      if (!(err instanceof CardNotAllowed)) {
        const message = `the card in "${this.physicalReader}" could not be checked: ${(err as Error).message}`;
        if (first) throw new TargetEnvironmentError(message);
        this.emit({ type: 'error', message });
        return;
      }
      this.notAllowed.push(err);
      if (first) throw err; // startRelay fails with it: no virtual card at all
      this.emit({ type: 'not-allowed', message: `${err.message}; the card stays out of "${this.virtualReader}"` });
      return;
    }
    this.authCertSha256 = hash;
    this.startRecording(hash);
    this.serving = true;
    this.emit({ type: 'inserted', atr: toHex(this.atrBytes), authCertSha256: hash });
    if (!first) {
      this.recorder?.power('insert');
      await this.transport?.insert();
    }
  }

  /** The physical card's handle, through the binding or (io 'sync') directly. */
  private async connectCard(ctx: PcscContext): Promise<CardHandle> {
    const share = this.options.share ?? 'exclusive';
    if (this.options.io === 'sync') {
      try {
        return await connectDirect(this.physicalReader, share);
      } catch (err) {
        if (!(err instanceof DirectIoUnavailable)) throw err;
        this.emit({ type: 'error', message: `${err.message}; using the pcsclite binding` });
      }
    }
    return ctx.connect(this.physicalReader, { share });
  }

  private async detach(reason: string): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    if (this.serving) {
      this.serving = false;
      this.recorder?.power('remove');
      this.emit({ type: 'removed', reason });
      if (!this.stopped) await this.transport?.remove();
    }
    await h?.disconnect('leave').catch(() => {});
  }

  /** The first allowed card writes the header; its check's exchanges follow it, in order. */
  private startRecording(hash: string): void {
    const sink = this.options.record;
    if (!sink || this.recorder) return;
    this.recorder = this.own = new SessionRecorder(sink, {
      target: 'relay',
      reader: this.physicalReader,
      atr: this.atrBytes,
      card: { authCertSha256: hash },
      harness: { name: 'myna-hil', version: HARNESS_VERSION },
    });
    for (const e of this.early ?? []) this.recorder.exchange(e.command, e.response, { by: e.by });
    this.early = undefined;
    this.flushGuard();
  }

  private emit(event: RelayEvent): void {
    this.options.onEvent?.(event);
  }
}
