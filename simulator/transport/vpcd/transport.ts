/**
 * The vpcd transport: puts a {@link SmartCard} into a vsmartcard `vpcd` reader inside pcscd.
 *
 * Two connection directions (docs/pcsc-stack.md §5.1, §5.7):
 * - `connect` (default; vpcd's normal mode): vpcd listens on port 35963 + slot, the card connects to it
 *   (default host 127.0.0.1 — vpcd listens on IPv4 only). When the connection ends (pcscd stopped or
 *   restarted) the card reconnects with exponential backoff until it is removed or stopped.
 * - `listen` (vpcd's reversed mode, `DEVICENAME 127.0.0.1:0x8C7B` in reader.conf): the card listens
 *   (on loopback by default) and vpcd connects to it at every presence poll while unconnected.
 *
 * Removal is closing the socket (and, in `listen` mode, the listener); insertion is connecting (or
 * listening) again. The card object is the same across insertions, so its persistent state stays;
 * removal powers it down, as pulling a card from a reader does. Several transports (one per slot) can
 * run in one process.
 *
 * "Visible" = the first GET ATR received on a connection: only then has vpcd taken the card (a
 * connection to a slot that is already occupied completes at TCP level and then just waits).
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { CardPort, SmartCard } from '../../card/types.ts';
import { encodeFrame, FrameDecoder, MAX_PAYLOAD } from './framing.ts';
import { describe, VpcdResponder, type VpcdExchange, type VpcdHandleResult } from './messages.ts';
import { loadQuickAck, type QuickAck } from './quickack.ts';

/** vpcd's port for slot 0 (0x8C7B, Debian's /etc/reader.conf.d/vpcd); slot N listens on this + N. */
export const VPCD_BASE_PORT = 35963;

export type VpcdMode = 'connect' | 'listen';

/**
 * Default cap on what one connection may hold: input received but not yet answered plus replies not
 * yet taken by the kernel. vpcd has one message in flight at a time (at most 65537 bytes each way),
 * so four frames' worth is far above an honest peer and still small.
 */
export const DEFAULT_MAX_QUEUED_BYTES = 4 * (MAX_PAYLOAD + 2);

export interface VpcdLogger {
  info(message: string): void;
  warn(message: string): void;
}

export interface BackoffOptions {
  /** First retry delay after a failed or lost connection. Default 50 ms. */
  initialMs: number;
  /** Ceiling of the delay. Default 1000 ms (pcscd polls every 400 ms; a restart takes 1-2 s). */
  maxMs: number;
  /** Multiplier per consecutive failure. Default 2. */
  factor: number;
}

export interface VpcdTransportOptions<C extends CardPort = SmartCard> {
  /**
   * The card: synchronous (the simulator) or asynchronous (AsyncSmartCard, the relay). An asynchronous
   * card is asked one message at a time: the next frame waits until the previous reply was written.
   */
  card: C;
  /** Default 'connect' (vpcd normal mode). */
  mode?: VpcdMode;
  /** connect: vpcd's address; listen: the address to bind. Default 127.0.0.1 (loopback) in both modes. */
  host?: string;
  /** vpcd slot; the port is basePort + slot. Default 0. */
  slot?: number;
  /** Default 35963. */
  basePort?: number;
  /** Explicit port, overriding basePort + slot (tests use it with an ephemeral port; 0 = any, listen mode). */
  port?: number;
  /** Re-arm TCP_QUICKACK after every read (removes Debian vpcd 0.8's 40 ms stall). Default true. */
  quickAck?: boolean;
  backoff?: Partial<BackoffOptions>;
  /**
   * connect mode: after the card itself closed the connection (malformed input, power loss), wait at
   * least this long before connecting again, so that one of pcscd's presence polls (every 0.4 s) sees
   * the slot empty and clients get a removal and a fresh insertion rather than a card that silently
   * changed under them. Default 1000 ms.
   */
  faultReinsertDelayMs?: number;
  /** Start with the card inserted. Default true. */
  inserted?: boolean;
  /** Default: warnings to console.warn, info dropped. */
  logger?: VpcdLogger;
  /**
   * Bytes one connection may queue (input not yet answered + replies not yet written) before it is
   * closed as a protocol error. Default {@link DEFAULT_MAX_QUEUED_BYTES}.
   */
  maxQueuedBytes?: number;
}

export interface VpcdTransportStatus {
  mode: VpcdMode;
  host: string;
  port: number;
  slot: number;
  /** The card is meant to be in the reader (not removed). */
  inserted: boolean;
  /** A TCP connection with vpcd is open. */
  connected: boolean;
  /** vpcd has polled the card on the current connection (the card is in the reader as pcscd sees it). */
  visible: boolean;
  /** vpcd has powered the card on (and not off since). */
  powered: boolean;
  /** TCP connections established (connect) or accepted (listen) so far. */
  connections: number;
  /** Connections on which the card became visible so far. */
  insertions: number;
  apdus: number;
  protocolErrors: number;
  /**
   * Back-pressure on the current connection: `paused` while vpcd is not reading the replies (the card
   * stops reading its input), and what is queued right now, in bytes, against `limit`.
   */
  flow: { paused: boolean; input: number; output: number; limit: number };
  quickAck: { wanted: boolean; available: boolean; reason?: string };
  lastError?: string;
  stopped: boolean;
}

export interface VpcdTransportEvents {
  listening: [{ host: string; port: number }];
  connected: [{ remote: string }];
  visible: [];
  exchange: [VpcdExchange];
  disconnected: [{ reason: string; wasVisible: boolean }];
  'protocol-error': [{ reason: string }];
  /** The card threw PowerLoss mid-command; the connection is closed (see ./messages.ts). */
  'power-loss': [{ reason: string }];
  retry: [{ attempt: number; delayMs: number; error: string }];
}

const DEFAULT_LOGGER: VpcdLogger = { info: () => {}, warn: (m) => console.warn(m) };

/**
 * One TCP connection with vpcd: framing, dispatch to the card, replies, QUICKACK re-arming.
 *
 * Back-pressure: a peer that sends APDUs and never reads the replies must not make the process grow.
 * When socket.write() says the kernel is full, the connection stops reading (socket.pause()) and stops
 * answering the frames it already has, and carries on at 'drain'. What it holds meanwhile is bounded
 * (one read chunk, one partial frame, one reply over the write high-water mark) and capped by
 * `maxQueued`: over it, the connection is closed as a protocol error (an honest vpcd has one message
 * in flight).
 */
class Connection {
  private readonly decoder = new FrameDecoder();
  /** An asynchronous card is answering a frame: the next one waits (vpcd has one message in flight). */
  private busy = false;
  /** Frames decoded but not yet answered (held while vpcd does not read). */
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  /** A framing error, acted on once the frames before it were answered. */
  private decodeError: string | undefined;
  /** socket.write() returned false: waiting for 'drain', not reading. */
  paused = false;
  visible = false;
  closed = false;
  private closeReason: string | undefined;
  /** The card closed the connection because of a fault (malformed input, power loss). */
  private byFault = false;

  constructor(
    readonly socket: net.Socket,
    private readonly responder: VpcdResponder<CardPort>,
    private readonly quickAck: QuickAck,
    private readonly maxQueued: number,
    private readonly hooks: {
      onVisible(): void;
      onExchange(e: VpcdExchange): void;
      onProtocolError(reason: string): void;
      onPowerLoss(reason: string): void;
      onClose(reason: string, wasVisible: boolean, byFault: boolean): void;
    },
  ) {
    socket.setNoDelay(true);
    quickAck.arm(socket);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('error', (err) => {
      this.closeReason ??= `socket error: ${err.message}`;
    });
    socket.on('end', () => {
      this.closeReason ??= 'vpcd closed the connection';
    });
    socket.on('close', () => {
      this.closed = true;
      this.hooks.onClose(this.closeReason ?? 'connection closed', this.visible, this.byFault);
    });
  }

  /** Input received but not yet answered (partial frame + decoded frames waiting). */
  get queuedInput(): number {
    return this.decoder.pending + this.queuedBytes;
  }

  /** Replies handed to the socket that the kernel has not taken yet. */
  get queuedOutput(): number {
    return this.socket.writableLength;
  }

  /** Closes the connection (removal or protocol error). Idempotent. */
  close(reason: string): void {
    this.closeReason ??= reason;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    this.quickAck.arm(this.socket);
    const { frames, error } = this.decoder.push(chunk);
    for (const f of frames) {
      this.queue.push(f);
      this.queuedBytes += f.length;
    }
    if (error) this.decodeError ??= error;
    this.pump();
  }

  private onDrain(): void {
    if (!this.paused || this.socket.destroyed) return;
    this.paused = false;
    this.pump();
    if (!this.paused && !this.socket.destroyed) this.socket.resume();
  }

  /**
   * Answers queued frames in order until none is left, vpcd stops taking replies, or an asynchronous
   * card is still answering (its reply resumes the pump). Frames that arrive meanwhile are queued and
   * count against the same cap.
   */
  private pump(): void {
    while (this.queue.length && !this.paused && !this.busy) {
      if (this.socket.destroyed) return;
      const payload = this.queue.shift()!;
      this.queuedBytes -= payload.length;
      const result = this.responder.handle(payload);
      if (result instanceof Promise) {
        this.busy = true;
        result.then((r) => {
          this.busy = false;
          if (this.socket.destroyed) return; // removed meanwhile: the reply has no one to go to
          if (this.answer(r)) this.pump();
        });
        break;
      }
      if (!this.answer(result)) return;
    }
    if (this.socket.destroyed) return;
    const held = this.queuedInput + this.queuedOutput;
    if (held > this.maxQueued) {
      this.reject(
        `${held} bytes queued (${this.queuedInput} received and not yet answered, ${this.queuedOutput} of replies vpcd has not read), ` +
          `over the limit of ${this.maxQueued}; vpcd has one message in flight at a time`,
      );
      return;
    }
    if (!this.queue.length && !this.busy && this.decodeError) this.reject(this.decodeError);
  }

  /** Writes the card's reply to one frame. False when the connection was closed. */
  private answer(result: VpcdHandleResult): boolean {
    if (!result.ok) {
      if (result.cause === 'power-loss') {
        this.hooks.onPowerLoss(result.reason);
        this.byFault = true;
        this.close(result.reason);
      } else this.reject(result.reason);
      return false;
    }
    const ex = result.exchange;
    if (ex.reply && !this.socket.write(encodeFrame(ex.reply))) {
      // The kernel's send buffer is full: vpcd is not reading. Stop reading until it does.
      this.paused = true;
      this.socket.pause();
    }
    if (ex.kind === 'get-atr' && !this.visible) {
      this.visible = true;
      this.hooks.onVisible();
    }
    this.hooks.onExchange(ex);
    return true;
  }

  private reject(reason: string): void {
    this.hooks.onProtocolError(reason);
    this.byFault = true;
    this.close(`protocol error: ${reason}`);
  }
}

export class VpcdTransport<C extends CardPort = SmartCard> extends EventEmitter<VpcdTransportEvents> {
  readonly mode: VpcdMode;
  readonly host: string;
  readonly slot: number;
  private portValue: number;
  private readonly responder: VpcdResponder<C>;
  private readonly backoff: BackoffOptions;
  private readonly faultReinsertDelayMs: number;
  private readonly maxQueuedBytes: number;
  private readonly logger: VpcdLogger;
  private readonly quickAckWanted: boolean;
  private quickAck: QuickAck | undefined;

  private wantInserted: boolean;
  private stopped = false;
  private started = false;
  private conn: Connection | undefined;
  private pendingSocket: net.Socket | undefined; // connect mode: a connect() in progress
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private server: net.Server | undefined;
  private ops: Promise<void> = Promise.resolve();
  private counters = { connections: 0, insertions: 0, apdus: 0, protocolErrors: 0 };
  private lastError: string | undefined;
  private closeWaiters: Array<() => void> = [];

  constructor(opts: VpcdTransportOptions<C>) {
    super();
    this.mode = opts.mode ?? 'connect';
    this.host = opts.host ?? '127.0.0.1';
    this.slot = opts.slot ?? 0;
    if (!Number.isInteger(this.slot) || this.slot < 0 || this.slot > 15) throw new RangeError(`vpcd slot ${opts.slot} out of range 0..15`);
    this.portValue = opts.port ?? (opts.basePort ?? VPCD_BASE_PORT) + this.slot;
    this.responder = new VpcdResponder(opts.card);
    this.backoff = { initialMs: 50, maxMs: 1000, factor: 2, ...opts.backoff };
    this.faultReinsertDelayMs = opts.faultReinsertDelayMs ?? 1000;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    if (!Number.isInteger(this.maxQueuedBytes) || this.maxQueuedBytes < 1)
      throw new RangeError(`vpcd maxQueuedBytes ${opts.maxQueuedBytes} must be a positive integer`);
    this.logger = opts.logger ?? DEFAULT_LOGGER;
    this.quickAckWanted = opts.quickAck ?? true;
    this.wantInserted = opts.inserted ?? true;
  }

  get card(): C {
    return this.responder.card;
  }

  /** The TCP port: vpcd's (connect) or ours (listen; the bound one when 0 was asked). */
  get port(): number {
    return this.portValue;
  }

  /**
   * Starts the transport. connect mode: resolves at once (connection attempts run in the background,
   * with backoff). listen mode: resolves once listening, rejects if the port cannot be bound.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('VpcdTransport already started');
    this.started = true;
    this.quickAck = await loadQuickAck(this.quickAckWanted, this.logger);
    if (this.stopped) return;
    if (this.wantInserted) await this.enqueue(() => this.goInserted());
  }

  /** Inserts the card: connects to vpcd (connect) or listens for it (listen). */
  insert(): Promise<void> {
    this.assertRunning();
    this.wantInserted = true;
    return this.enqueue(() => this.goInserted());
  }

  /** Removes the card: closes the connection (and the listener). Resolves once closed. */
  remove(): Promise<void> {
    this.assertRunning();
    this.wantInserted = false;
    return this.enqueue(() => this.goRemoved('card removed'));
  }

  /**
   * Warm-resets the card in place (volatile state cleared) without telling vpcd: to PC/SC clients it
   * looks like a card that lost its session (e.g. a brown-out). For a reset clients see as an event,
   * remove and insert. Returns the fault message if the card threw.
   */
  reset(): string | undefined {
    try {
      const r = this.responder.card.reset();
      if (r instanceof Promise) r.catch((err: unknown) => this.logger.warn(`vpcd slot ${this.slot}: card reset failed: ${describe(err)}`));
      return undefined;
    } catch (err) {
      const msg = `card reset threw: ${describe(err)}`;
      this.logger.warn(`vpcd slot ${this.slot}: ${msg}`);
      return msg;
    }
  }

  /** Stops for good: removes the card, stops reconnecting and listening. Idempotent. */
  stop(): Promise<void> {
    if (this.stopped) return this.ops;
    this.stopped = true;
    this.wantInserted = false;
    return this.enqueue(() => this.goRemoved('transport stopped'));
  }

  status(): VpcdTransportStatus {
    return {
      mode: this.mode,
      host: this.host,
      port: this.portValue,
      slot: this.slot,
      inserted: this.wantInserted,
      connected: !!this.conn && !this.conn.closed,
      visible: !!this.conn && !this.conn.closed && this.conn.visible,
      powered: this.responder.isPowered,
      ...this.counters,
      flow: this.flow(),
      quickAck: {
        wanted: this.quickAckWanted,
        available: this.quickAck?.available ?? false,
        reason: this.quickAck?.reason,
      },
      lastError: this.lastError,
      stopped: this.stopped,
    };
  }

  // ---- internals -------------------------------------------------------------------------------

  private flow(): VpcdTransportStatus['flow'] {
    const c = this.conn && !this.conn.closed ? this.conn : undefined;
    return { paused: c?.paused ?? false, input: c?.queuedInput ?? 0, output: c?.queuedOutput ?? 0, limit: this.maxQueuedBytes };
  }

  private assertRunning(): void {
    if (!this.started) throw new Error('VpcdTransport not started');
    if (this.stopped) throw new Error('VpcdTransport stopped');
  }

  /** Serialises insert/remove/stop so that listen/close and connect/destroy never interleave. */
  private enqueue(op: () => Promise<void>): Promise<void> {
    const next = this.ops.then(op, op);
    this.ops = next.catch(() => {});
    return next;
  }

  private async goInserted(): Promise<void> {
    if (!this.wantInserted || this.stopped) return;
    if (this.mode === 'connect') {
      if (this.conn || this.pendingSocket || this.retryTimer) return;
      this.attempt = 0;
      this.connectNow();
    } else if (!this.server) {
      await this.listen();
    }
  }

  private async goRemoved(reason: string): Promise<void> {
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    const closing: Promise<void>[] = [];
    if (this.pendingSocket) {
      const s = this.pendingSocket;
      closing.push(new Promise((r) => s.once('close', () => r())));
      s.destroy();
    }
    if (this.conn && !this.conn.closed) {
      closing.push(new Promise((r) => this.closeWaiters.push(r)));
      this.conn.close(reason);
    }
    if (this.server) {
      const srv = this.server;
      this.server = undefined;
      closing.push(new Promise((r) => srv.close(() => r())));
    }
    await Promise.all(closing);
  }

  private attach(socket: net.Socket): void {
    this.counters.connections++;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.conn = new Connection(socket, this.responder, this.quickAck!, this.maxQueuedBytes, {
      onVisible: () => {
        this.attempt = 0;
        this.counters.insertions++;
        this.logger.info(`vpcd slot ${this.slot}: card visible (first GET ATR on this connection)`);
        this.emit('visible');
      },
      onExchange: (e) => {
        if (e.kind === 'apdu') this.counters.apdus++;
        if (e.fault) this.logger.warn(`vpcd slot ${this.slot}: ${e.fault}`);
        this.emit('exchange', e);
      },
      onProtocolError: (reason) => {
        this.counters.protocolErrors++;
        this.lastError = `protocol error: ${reason}`;
        this.logger.warn(`vpcd slot ${this.slot}: rejected malformed input from vpcd, closing the connection: ${reason}`);
        this.emit('protocol-error', { reason });
      },
      onPowerLoss: (reason) => {
        this.lastError = reason;
        this.logger.warn(`vpcd slot ${this.slot}: ${reason}; closing the connection (vpcd sees a card that died mid-APDU)`);
        this.emit('power-loss', { reason });
      },
      onClose: (reason, wasVisible, byFault) => {
        const fault = this.responder.removed();
        if (fault) this.logger.warn(`vpcd slot ${this.slot}: ${fault}`);
        this.conn = undefined;
        this.logger.info(`vpcd slot ${this.slot}: disconnected (${reason})`);
        this.emit('disconnected', { reason, wasVisible });
        const waiters = this.closeWaiters;
        this.closeWaiters = [];
        for (const w of waiters) w();
        if (this.mode === 'connect' && this.wantInserted && !this.stopped) {
          this.scheduleRetry(reason, byFault ? this.faultReinsertDelayMs : 0);
        }
      },
    });
    this.logger.info(`vpcd slot ${this.slot}: connected (${remote}); waiting for vpcd's first GET ATR`);
    this.emit('connected', { remote });
  }

  private connectNow(): void {
    const socket = net.connect({ host: this.host, port: this.portValue });
    this.pendingSocket = socket;
    let failed: string | undefined;
    const onError = (err: Error) => {
      failed = err.message;
    };
    socket.once('error', onError);
    socket.once('close', () => {
      if (this.pendingSocket !== socket) return; // connected: Connection handles close from here on
      this.pendingSocket = undefined;
      this.lastError = failed ?? 'connection closed before it was established';
      if (this.wantInserted && !this.stopped) this.scheduleRetry(this.lastError);
    });
    socket.once('connect', () => {
      socket.off('error', onError);
      this.pendingSocket = undefined;
      if (!this.wantInserted || this.stopped) {
        socket.destroy();
        return;
      }
      this.attach(socket);
    });
  }

  private scheduleRetry(error: string, minDelayMs = 0): void {
    if (this.retryTimer) return;
    const backoff = Math.min(this.backoff.maxMs, this.backoff.initialMs * this.backoff.factor ** this.attempt);
    const delayMs = Math.max(backoff, minDelayMs);
    this.attempt++;
    this.emit('retry', { attempt: this.attempt, delayMs, error });
    if (this.attempt === 1 || this.attempt % 10 === 0) {
      this.logger.info(
        `vpcd slot ${this.slot}: (re)connecting to vpcd at ${this.host}:${this.portValue} in ${delayMs} ms ` +
          `(attempt ${this.attempt}; last: ${error}; backoff up to ${this.backoff.maxMs} ms)`,
      );
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.wantInserted && !this.stopped && !this.conn && !this.pendingSocket) this.connectNow();
    }, delayMs);
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((socket) => this.onIncoming(socket));
      const onError = (err: Error) => {
        this.lastError = `cannot listen on ${this.host}:${this.portValue}: ${err.message}`;
        reject(new Error(this.lastError));
      };
      server.once('error', onError);
      server.listen({ host: this.host, port: this.portValue, exclusive: true }, () => {
        server.off('error', onError);
        server.on('error', (err) => {
          this.lastError = `listener error: ${err.message}`;
          this.logger.warn(`vpcd slot ${this.slot}: ${this.lastError}`);
        });
        const addr = server.address();
        if (addr && typeof addr === 'object') this.portValue = addr.port;
        this.server = server;
        this.logger.info(`vpcd slot ${this.slot}: listening on ${this.host}:${this.portValue} for vpcd (reversed mode)`);
        this.emit('listening', { host: this.host, port: this.portValue });
        resolve();
      });
    });
  }

  private onIncoming(socket: net.Socket): void {
    socket.on('error', () => {}); // a refused socket may still report ECONNRESET
    if (!this.wantInserted || this.stopped) {
      socket.destroy();
      return;
    }
    if (this.conn && !this.conn.closed) {
      this.logger.warn(`vpcd slot ${this.slot}: refused a second connection from ${socket.remoteAddress}:${socket.remotePort} (one reader per card)`);
      socket.destroy();
      return;
    }
    this.attach(socket);
  }
}
