/**
 * The project's one PC/SC client, over the optional native npm package `pcsclite` (1.0.1, which talks
 * to pcscd through libpcsclite). Promise API, typed; the binding is imported lazily, so code that
 * never touches PC/SC does not need it.
 *
 * - {@link openPcsc} opens a context (fails fast with {@link PcscUnavailableError} when the binding is
 *   missing, and with a {@link PcscError} when pcscd is not running).
 * - Reader states are followed with SCardGetStatusChange threads inside the binding; waiting for a card
 *   is waiting for a state (present / absent) with a deadline, never a sleep.
 * - One card handle per reader per context (a limit of the binding); open a second context for a
 *   second handle on the same reader.
 *
 * Traps of the binding this class hides: the process does not exit until every reader object is
 * closed, including readers never used (close() closes them all); after close() the binding emits
 * `Command cancelled` errors (ignored once closing); 'error' events without a listener would crash the
 * process (a listener is always attached; errors are kept in {@link PcscContext.lastError}). When pcscd
 * goes away the context is dead for good ({@link PcscContext.failed}): open a new one once it is back.
 */

/** pcsclite.h values (identical on every pcsc-lite build). */
export const SCARD = {
  SHARE_EXCLUSIVE: 0x1,
  SHARE_SHARED: 0x2,
  SHARE_DIRECT: 0x3,
  PROTOCOL_T0: 0x1,
  PROTOCOL_T1: 0x2,
  LEAVE_CARD: 0x0,
  RESET_CARD: 0x1,
  UNPOWER_CARD: 0x2,
  EJECT_CARD: 0x3,
  STATE_CHANGED: 0x2,
  STATE_UNKNOWN: 0x4,
  STATE_UNAVAILABLE: 0x8,
  STATE_EMPTY: 0x10,
  STATE_PRESENT: 0x20,
  STATE_EXCLUSIVE: 0x80,
  STATE_INUSE: 0x100,
  STATE_MUTE: 0x200,
} as const;

/** Largest response buffer libpcsclite accepts (MAX_BUFFER_SIZE_EXTENDED). */
export const MAX_RESPONSE_LENGTH = 4 + 3 + (1 << 16) + 3 + 2;

const ERROR_NAMES: Record<number, string> = {
  0x80100002: 'SCARD_E_CANCELLED',
  0x80100003: 'SCARD_E_INVALID_HANDLE',
  0x80100008: 'SCARD_E_INSUFFICIENT_BUFFER',
  0x80100009: 'SCARD_E_UNKNOWN_READER',
  0x8010000a: 'SCARD_E_TIMEOUT',
  0x8010000b: 'SCARD_E_SHARING_VIOLATION',
  0x8010000c: 'SCARD_E_NO_SMARTCARD',
  0x8010000f: 'SCARD_E_PROTO_MISMATCH',
  0x80100016: 'SCARD_E_NOT_TRANSACTED',
  0x80100017: 'SCARD_E_READER_UNAVAILABLE',
  0x8010001d: 'SCARD_E_NO_SERVICE',
  0x8010002e: 'SCARD_E_NO_READERS_AVAILABLE',
  0x80100066: 'SCARD_W_UNRESPONSIVE_CARD',
  0x80100067: 'SCARD_W_UNPOWERED_CARD',
  0x80100068: 'SCARD_W_RESET_CARD',
  0x80100069: 'SCARD_W_REMOVED_CARD',
};

/** A PC/SC call failed. `code` is the SCARD_* return value when the binding reported one. */
export class PcscError extends Error {
  readonly code: number | undefined;
  readonly codeName: string | undefined;
  constructor(message: string, code?: number) {
    super(message);
    this.name = 'PcscError';
    this.code = code;
    this.codeName = code === undefined ? undefined : ERROR_NAMES[code];
  }

  static from(err: unknown, context?: string): PcscError {
    if (err instanceof PcscError) return err;
    const msg = err instanceof Error ? err.message : String(err);
    const m = /\(0x([0-9a-fA-F]{8})\)/.exec(msg);
    const code = m ? parseInt(m[1], 16) : undefined;
    let text = context ? `${context}: ${msg}` : msg;
    if (code === 0x8010001d) text += ' — is pcscd running? Start it with `bash scripts/pcsc-stack.sh start`.';
    return new PcscError(text, code);
  }
}

/** The native binding is not installed or does not load. */
export class PcscUnavailableError extends PcscError {
  constructor(cause: string) {
    super(
      'The PC/SC client needs the optional npm package `pcsclite` (a native addon), which could not be loaded: ' +
        `${cause}. Install it with \`npm install pcsclite\`; building it needs the PC/SC headers ` +
        '(`apt-get install libpcsclite-dev`), which `bash scripts/pcsc-stack.sh install` installs with the rest of the stack.',
    );
    this.name = 'PcscUnavailableError';
  }
}

export type CardPresence = 'present' | 'absent';
export type ShareMode = 'shared' | 'exclusive' | 'direct';
export type ProtocolChoice = 'T0' | 'T1' | 'any';
export type Disposition = 'leave' | 'reset' | 'unpower' | 'eject';

export interface ReaderState {
  reader: string;
  /** dwEventState as pcscd reported it (the high 16 bits count events). */
  flags: number;
  present: boolean;
  empty: boolean;
  mute: boolean;
  inUse: boolean;
  exclusive: boolean;
  /** The ATR when a card is present (empty otherwise). */
  atr: Uint8Array;
  /** pcsc-lite's event counter for this reader (high 16 bits of flags). */
  eventCount: number;
}

export interface WaitOptions {
  /** Deadline in milliseconds. Default 10 000. */
  timeoutMs?: number;
}

export interface ConnectOptions {
  /** Default 'shared'. */
  share?: ShareMode;
  /** Default 'T1' (the My Number Card's contact protocol; vpcd always reports T=1). */
  protocol?: ProtocolChoice;
}

// ---- the binding's shape (pcsclite 1.0.1), reduced to what is used ------------------------------

type Cb<T> = (err: unknown, value: T) => void;
interface NativeReader {
  name: string;
  connected: boolean;
  on(ev: 'status', l: (s: { state: number; atr?: Buffer }) => void): void;
  on(ev: 'error', l: (e: unknown) => void): void;
  on(ev: 'end', l: () => void): void;
  connect(opts: { share_mode: number; protocol: number }, cb: Cb<number>): void;
  disconnect(disposition: number, cb: (err: unknown) => void): void;
  transmit(data: Buffer, resLen: number, protocol: number, cb: Cb<Buffer>): void;
  close(): void;
}
interface NativePcsc {
  readers: Record<string, NativeReader>;
  start?: (cb: (err: unknown, data: Buffer) => void) => void;
  on(ev: 'reader', l: (r: NativeReader) => void): void;
  on(ev: 'error', l: (e: unknown) => void): void;
  close(): void;
}

let factory: Promise<() => NativePcsc> | undefined;

async function loadBinding(): Promise<() => NativePcsc> {
  try {
    const mod = (await import('pcsclite')) as unknown as { default?: unknown };
    const fn = (mod.default ?? mod) as () => NativePcsc;
    if (typeof fn !== 'function') throw new Error('unexpected module shape');
    return fn;
  } catch (err) {
    throw new PcscUnavailableError((err as Error).message.split('\n')[0]);
  }
}

/** True when the `pcsclite` binding can be loaded (does not contact pcscd). */
export async function pcscBindingAvailable(): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    factory ??= loadBinding();
    await factory;
    return { ok: true };
  } catch (err) {
    factory = undefined;
    return { ok: false, reason: (err as Error).message };
  }
}

/** Opens a PC/SC context. Rejects with PcscUnavailableError (no binding) or PcscError (no pcscd). */
export async function openPcsc(): Promise<PcscContext> {
  factory ??= loadBinding();
  let make: () => NativePcsc;
  try {
    make = await factory;
  } catch (err) {
    factory = undefined;
    throw err;
  }
  let native: NativePcsc;
  try {
    native = make();
  } catch (err) {
    throw PcscError.from(err, 'cannot open a PC/SC context');
  }
  return new PcscContext(native);
}

function toState(reader: string, flags: number, atr: Buffer | undefined): ReaderState {
  const present = (flags & SCARD.STATE_PRESENT) !== 0;
  return {
    reader,
    flags,
    present,
    empty: (flags & SCARD.STATE_EMPTY) !== 0,
    mute: (flags & SCARD.STATE_MUTE) !== 0,
    inUse: (flags & SCARD.STATE_INUSE) !== 0,
    exclusive: (flags & SCARD.STATE_EXCLUSIVE) !== 0,
    atr: present && atr ? new Uint8Array(atr) : new Uint8Array(0),
    eventCount: (flags >>> 16) & 0xffff,
  };
}

interface Waiter {
  check(): boolean;
  fail(err: Error): void;
}

export class PcscContext {
  private readonly states = new Map<string, ReaderState>();
  private readonly readerObjects = new Map<string, NativeReader>();
  private readonly handles = new Map<string, PcscCard>();
  private readonly waiters = new Set<Waiter>();
  private readonly statusListeners = new Set<(s: ReaderState) => void>();
  private listed = false;
  private readerNames: string[] = [];
  private closing = false;
  private closed = false;
  /** Set once the context has died (pcscd stopped): every later call rejects with it. */
  failed: PcscError | undefined;
  /** The last error the binding emitted (kept for diagnostics). */
  lastError: PcscError | undefined;

  constructor(private readonly native: NativePcsc) {
    // The binding calls native.start() on the next tick; wrap it to learn when each reader list
    // arrives (an empty list emits no 'reader' event at all).
    const start = native.start;
    if (typeof start === 'function') {
      native.start = (cb) =>
        start.call(native, (err, data) => {
          cb(err, data);
          if (!err && data) {
            this.readerNames = data
              .toString('latin1')
              .split('\u0000')
              .filter((s) => s.length > 0);
            this.listed = true;
            this.notify();
          }
        });
    }
    native.on('error', (err) => this.onContextError(err));
    native.on('reader', (r) => this.onReader(r));
  }

  /** Readers known now (empty until the first list arrived; see {@link listReaders}). */
  readers(): string[] {
    return [...this.readerNames];
  }

  /** Lists the readers, waiting (with a deadline) for pcscd's first answer. */
  async listReaders(opts: WaitOptions = {}): Promise<string[]> {
    await this.waitUntil(() => this.listed, opts, 'the reader list');
    return this.readers();
  }

  /** The last known state of a reader, or undefined before its first status. */
  readerState(reader: string): ReaderState | undefined {
    return this.states.get(reader);
  }

  /** Subscribes to reader state changes; returns the unsubscribe function. */
  onStatus(listener: (s: ReaderState) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** Waits until the reader exists and has reported its first state. */
  async waitForReader(reader: string, opts: WaitOptions = {}): Promise<ReaderState> {
    return this.waitForState(reader, () => true, opts, `reader "${reader}"`);
  }

  /** Waits until a card is present in (or absent from) the reader, by reader state. */
  async waitForCard(reader: string, presence: CardPresence, opts: WaitOptions = {}): Promise<ReaderState> {
    return this.waitForState(
      reader,
      (s) => (presence === 'present' ? s.present && !s.mute : !s.present),
      opts,
      `a card ${presence === 'present' ? 'present in' : 'absent from'} "${reader}"`,
    );
  }

  /** Waits until the reader's state satisfies the predicate. */
  async waitForState(reader: string, predicate: (s: ReaderState) => boolean, opts: WaitOptions = {}, what = `a state of "${reader}"`): Promise<ReaderState> {
    await this.waitUntil(
      () => {
        const s = this.states.get(reader);
        return !!s && predicate(s);
      },
      opts,
      what,
    );
    return this.states.get(reader)!;
  }

  /** Connects to the card in the reader (shared, T=1 by default). */
  async connect(reader: string, opts: ConnectOptions = {}): Promise<PcscCard> {
    this.assertUsable();
    if (this.handles.has(reader)) throw new PcscError(`already connected to "${reader}" in this context (one handle per reader; open another context)`);
    const r = this.readerObjects.get(reader);
    if (!r) throw new PcscError(`no reader "${reader}" (readers: ${this.readerNames.join(', ') || 'none'})`, 0x80100009);
    const card = new PcscCard(this, r, opts);
    await card.open();
    this.handles.set(reader, card);
    return card;
  }

  /** The open card handles of this context. */
  cards(): PcscCard[] {
    return [...this.handles.values()];
  }

  /** Disconnects every open card handle (errors ignored: a removed card's handle is just dropped). */
  async disconnectAll(disposition: Disposition = 'leave'): Promise<void> {
    for (const card of [...this.handles.values()]) {
      try {
        await card.disconnect(disposition);
      } catch {
        // dropped anyway
      }
    }
  }

  /**
   * Disconnects every card (leaving it), closes every reader object (used or not) and the context.
   * Idempotent. After this the process can exit.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.disconnectAll('leave');
    for (const r of new Set([...Object.values(this.native.readers ?? {}), ...this.readerObjects.values()])) r.close();
    this.native.close();
    this.closed = true;
    const err = new PcscError('PC/SC context closed');
    for (const w of [...this.waiters]) w.fail(err);
  }

  /** @internal */
  forget(card: PcscCard): void {
    if (this.handles.get(card.reader) === card) this.handles.delete(card.reader);
  }

  /** @internal */
  assertUsable(): void {
    if (this.closing || this.closed) throw new PcscError('PC/SC context closed');
    if (this.failed) throw this.failed;
  }

  private onContextError(err: unknown): void {
    if (this.closing) return; // 'Command cancelled' after close()
    const e = PcscError.from(err, 'PC/SC context');
    this.lastError = e;
    // The binding's reader-list thread stops after any error: the context is dead.
    this.failed = new PcscError(`PC/SC context failed (${e.message}); open a new one once pcscd is back`, e.code);
    for (const w of [...this.waiters]) w.fail(this.failed);
  }

  private onReader(r: NativeReader): void {
    const name = r.name;
    this.readerObjects.set(name, r);
    r.on('error', (err) => {
      if (this.closing) return;
      this.lastError = PcscError.from(err, `reader "${name}"`);
    });
    r.on('end', () => {
      this.states.delete(name);
      if (this.readerObjects.get(name) === r) this.readerObjects.delete(name);
      this.notify();
    });
    r.on('status', (s) => {
      if (this.closing) return;
      const st = toState(name, s.state, s.atr);
      this.states.set(name, st);
      for (const l of this.statusListeners) l(st);
      this.notify();
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w.check();
  }

  private waitUntil(cond: () => boolean, opts: WaitOptions, what: string): Promise<void> {
    this.assertUsable();
    if (cond()) return Promise.resolve();
    const timeoutMs = opts.timeoutMs ?? 10_000;
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        if (err) reject(err);
        else resolve();
      };
      const waiter: Waiter = {
        check: () => {
          if (cond()) {
            done();
            return true;
          }
          return false;
        },
        fail: (err) => done(err),
      };
      const timer = setTimeout(() => {
        const s = [...this.states.values()].map((x) => `${x.reader}: ${x.present ? 'present' : 'empty'}`).join('; ');
        done(new PcscError(`timed out after ${timeoutMs} ms waiting for ${what} (readers now: ${s || 'none'})`, 0x8010000a));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }
}

const SHARE: Record<ShareMode, number> = { shared: SCARD.SHARE_SHARED, exclusive: SCARD.SHARE_EXCLUSIVE, direct: SCARD.SHARE_DIRECT };
const PROTOCOL: Record<ProtocolChoice, number> = { T0: SCARD.PROTOCOL_T0, T1: SCARD.PROTOCOL_T1, any: SCARD.PROTOCOL_T0 | SCARD.PROTOCOL_T1 };
const DISPOSITION: Record<Disposition, number> = {
  leave: SCARD.LEAVE_CARD,
  reset: SCARD.RESET_CARD,
  unpower: SCARD.UNPOWER_CARD,
  eject: SCARD.EJECT_CARD,
};

/** A connected card (an SCARDHANDLE inside the binding). */
export class PcscCard {
  readonly reader: string;
  private protocolValue = 0;
  private isConnected = false;

  /** @internal use {@link PcscContext.connect} */
  constructor(
    private readonly ctx: PcscContext,
    private readonly native: NativeReader,
    private readonly opts: ConnectOptions,
  ) {
    this.reader = native.name;
  }

  get connected(): boolean {
    return this.isConnected;
  }

  /** The active protocol: 'T0' or 'T1'. */
  get protocol(): 'T0' | 'T1' {
    return this.protocolValue === SCARD.PROTOCOL_T0 ? 'T0' : 'T1';
  }

  /** @internal */
  open(): Promise<void> {
    const share = SHARE[this.opts.share ?? 'shared'];
    const protocol = PROTOCOL[this.opts.protocol ?? 'T1'];
    return new Promise((resolve, reject) => {
      // The binding skips SCardConnect when it believes it is still connected (a disconnect that
      // failed): it then calls back with no protocol. Treat that as the error it is.
      this.native.connect({ share_mode: share, protocol }, (err, proto) => {
        if (err) return reject(PcscError.from(err, `connect to "${this.reader}"`));
        if (typeof proto !== 'number') {
          return reject(new PcscError(`connect to "${this.reader}": the binding still holds an earlier handle (a failed disconnect)`));
        }
        this.protocolValue = proto;
        this.isConnected = true;
        resolve();
      });
    });
  }

  /**
   * Sends a command APDU and returns the response as the reader delivered it (normally data + SW1
   * SW2). Not interpreted: a card that died mid-command comes back from pcscd as SCARD_S_SUCCESS
   * with 0 bytes (docs/pcsc-stack.md §5.5), and that empty array is returned as is.
   */
  transmit(command: Uint8Array, opts: { maxResponseLength?: number } = {}): Promise<Uint8Array> {
    this.ctx.assertUsable();
    if (!this.isConnected) return Promise.reject(new PcscError(`not connected to "${this.reader}"`));
    const resLen = opts.maxResponseLength ?? MAX_RESPONSE_LENGTH;
    return new Promise((resolve, reject) => {
      this.native.transmit(Buffer.from(command), resLen, this.protocolValue, (err, data) => {
        if (err) return reject(PcscError.from(err, `transmit to "${this.reader}"`));
        resolve(new Uint8Array(data));
      });
    });
  }

  /**
   * Reconnects with a disposition: 'reset' warm-resets the card, 'unpower' cycles its power, 'leave'
   * just reconnects. pcsclite 1.0.1 has no SCardReconnect, so this is SCardDisconnect(disposition)
   * followed by SCardConnect with the same options; between the two another client could take an
   * exclusive hold, and pcscd re-powers the card on connect when needed.
   */
  async reconnect(disposition: Exclude<Disposition, 'eject'> = 'reset'): Promise<void> {
    this.ctx.assertUsable();
    await this.release(disposition);
    await this.open();
  }

  /**
   * Disconnects with a disposition (default 'leave'). Idempotent. The handle is dropped from its
   * context even when SCardDisconnect fails (e.g. the card is gone).
   */
  async disconnect(disposition: Disposition = 'leave'): Promise<void> {
    try {
      await this.release(disposition);
    } finally {
      this.isConnected = false;
      this.ctx.forget(this);
    }
  }

  private release(disposition: Disposition): Promise<void> {
    if (!this.isConnected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.native.disconnect(DISPOSITION[disposition], (err) => {
        if (err) return reject(PcscError.from(err, `disconnect from "${this.reader}"`));
        this.isConnected = false;
        resolve();
      });
    });
  }
}
