/**
 * A card handle that calls libpcsclite synchronously, through the optional FFI package `koffi`, for the
 * one place where a blocking call is the better trade: the relay's own process (harness/relay), whose
 * every APDU waits for the physical card anyway (vpcd has one message in flight).
 *
 * Why: the `pcsclite` binding runs every SCardTransmit on libuv's thread pool and comes back through
 * the event loop, two thread hand-offs per APDU. Measured on this project's machines against the
 * simulator in a vpcd reader (bench/relay.ts), the synchronous call saves about 90 µs of a 390 µs round
 * trip, most of what the relay adds.
 *
 * The cost: while the card works, the calling process does nothing else (timers, other sockets,
 * signals wait). So it is only for a process that has nothing else to do meanwhile, never for the
 * runner (whose clients' output and timeouts must keep flowing), and never in a process that also
 * serves the card being called (that would wait for itself forever).
 *
 * Also better than the binding: SCardReconnect exists here (pcsclite 1.0.1 has none), so a reset
 * keeps the exclusive hold instead of disconnecting and connecting again.
 */
import { importKoffi, type Koffi } from '../../simulator/transport/koffi.ts';
import { MAX_RESPONSE_LENGTH, PcscError, SCARD, type Disposition, type ShareMode } from './client.ts';

/** What the relay needs of a connected card: the binding's PcscCard and {@link DirectCard} both fit. */
export interface CardHandle {
  transmit(command: Uint8Array): Promise<Uint8Array>;
  reconnect(disposition?: Exclude<Disposition, 'eject'>): Promise<void>;
  disconnect(disposition?: Disposition): Promise<void>;
}

type Fn = (...args: unknown[]) => number;
interface Api {
  establish: Fn;
  release: Fn;
  connect: Fn;
  reconnect: Fn;
  disconnect: Fn;
  transmit: Fn;
}

const SHARE: Record<ShareMode, number> = { exclusive: SCARD.SHARE_EXCLUSIVE, shared: SCARD.SHARE_SHARED, direct: SCARD.SHARE_DIRECT };
const DISPOSITION: Record<Disposition, number> = { leave: SCARD.LEAVE_CARD, reset: SCARD.RESET_CARD, unpower: SCARD.UNPOWER_CARD, eject: SCARD.EJECT_CARD };
const SCOPE_SYSTEM = 2;

let api: Promise<Api> | undefined;

/**
 * Synchronous card I/O cannot be had here (no koffi, or no libpcsclite to bind): the caller falls back
 * to the `pcsclite` binding. Not a PcscUnavailableError, whose message is about that binding.
 */
export class DirectIoUnavailable extends PcscError {
  constructor(cause: string) {
    super(`synchronous card I/O unavailable: ${cause}`);
    this.name = 'DirectIoUnavailable';
  }
}

/** libpcsclite's functions bound through koffi (LONG and DWORD are C `long` / `unsigned long` on Linux). */
async function load(): Promise<Api> {
  let koffi: Koffi;
  try {
    koffi = await importKoffi();
  } catch (err) {
    throw new DirectIoUnavailable((err as Error).message);
  }
  let lib: ReturnType<Koffi['load']>;
  try {
    lib = koffi.load('libpcsclite.so.1');
  } catch (err) {
    throw new DirectIoUnavailable(`libpcsclite.so.1 could not be loaded through koffi (${(err as Error).message}); apt-get install libpcsclite1`);
  }
  const f = (decl: string) => lib.func(decl) as unknown as Fn;
  return {
    establish: f('long SCardEstablishContext(unsigned long scope, void *r1, void *r2, _Out_ long *context)'),
    release: f('long SCardReleaseContext(long context)'),
    connect: f(
      'long SCardConnect(long context, const char *reader, unsigned long share, unsigned long protocols, _Out_ long *card, _Out_ unsigned long *active)',
    ),
    reconnect: f('long SCardReconnect(long card, unsigned long share, unsigned long protocols, unsigned long init, _Out_ unsigned long *active)'),
    disconnect: f('long SCardDisconnect(long card, unsigned long disposition)'),
    transmit: f(
      'long SCardTransmit(long card, const void *sendPci, const uint8_t *send, unsigned long sendLength, void *recvPci, _Out_ uint8_t *recv, _Inout_ unsigned long *recvLength)',
    ),
  };
}

function check(rv: number, what: string): void {
  const code = rv >>> 0;
  if (code !== 0) throw new PcscError(`${what}: ${new PcscError('', code).codeName ?? 'PC/SC error'} (0x${code.toString(16).padStart(8, '0')})`, code);
}

/** Opens its own PC/SC context and connects to the card in `reader` (T=1). Throws DirectIoUnavailable without koffi or libpcsclite. */
export async function connectDirect(reader: string, share: ShareMode = 'exclusive'): Promise<DirectCard> {
  api ??= load();
  const a = await api.catch((err) => {
    api = undefined;
    throw err;
  });
  const context = [0];
  check(a.establish(SCOPE_SYSTEM, null, null, context), 'SCardEstablishContext');
  const card = [0];
  const active = [0];
  const rv = a.connect(context[0], reader, SHARE[share], SCARD.PROTOCOL_T1, card, active);
  if (rv >>> 0 !== 0) {
    a.release(context[0]);
    check(rv, `connect to "${reader}"`);
  }
  return new DirectCard(a, reader, share, context[0], card[0], active[0]);
}

export class DirectCard implements CardHandle {
  /** SCARD_IO_REQUEST {dwProtocol, cbPciLength} for the active protocol. */
  private readonly pci = Buffer.alloc(16);
  /** One receive buffer for every transmit; each answer is copied out of it. */
  private readonly recv = Buffer.allocUnsafe(MAX_RESPONSE_LENGTH);
  private readonly recvLength = [0];
  private connected = true;

  constructor(
    private readonly api: Api,
    readonly reader: string,
    private readonly share: ShareMode,
    private readonly context: number,
    private handle: number,
    protocol: number,
  ) {
    this.setProtocol(protocol);
  }

  private setProtocol(protocol: number): void {
    this.pci.writeBigUInt64LE(BigInt(protocol), 0);
    this.pci.writeBigUInt64LE(16n, 8);
  }

  /** The answer as the reader delivered it (an empty one when the card died mid-command), like PcscCard.transmit. */
  transmitSync(command: Uint8Array): Uint8Array {
    if (!this.connected) throw new PcscError(`not connected to "${this.reader}"`);
    this.recvLength[0] = this.recv.length;
    check(this.api.transmit(this.handle, this.pci, command, command.length, null, this.recv, this.recvLength), `transmit to "${this.reader}"`);
    return new Uint8Array(this.recv.subarray(0, this.recvLength[0]));
  }

  transmit(command: Uint8Array): Promise<Uint8Array> {
    try {
      return Promise.resolve(this.transmitSync(command));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** SCardReconnect: 'reset' warm, 'unpower' cold, 'leave' neither; the share mode (an exclusive hold) is kept. */
  async reconnect(disposition: Exclude<Disposition, 'eject'> = 'reset'): Promise<void> {
    if (!this.connected) throw new PcscError(`not connected to "${this.reader}"`);
    const active = [0];
    check(this.api.reconnect(this.handle, SHARE[this.share], SCARD.PROTOCOL_T1, DISPOSITION[disposition], active), `reconnect to "${this.reader}"`);
    this.setProtocol(active[0]);
  }

  /** Disconnects and releases the context. Idempotent; the context is released even when the card is gone. */
  async disconnect(disposition: Disposition = 'leave'): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    const rv = this.api.disconnect(this.handle, DISPOSITION[disposition]);
    this.api.release(this.context);
    check(rv, `disconnect from "${this.reader}"`);
  }
}
