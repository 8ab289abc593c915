/**
 * `myna-hil serve`: one card in one vpcd slot, until stopped. The CLI module
 * (harness/cli/commands/serve.ts) parses options and signals; this file does the work and is what
 * tests drive, with any {@link SmartCard} from an injected `buildCard`.
 *
 * What it prints (one line each, timestamped): the card becoming visible to pcscd (the first GET ATR
 * on a connection), removals, power events from the reader, every APDU exchange with VERIFY / CHANGE
 * REFERENCE DATA / CHANGE KEY data redacted (simulator/apdu/trace.ts), card faults and protocol errors.
 * GET ATR presence polls (every 0.4 s) only with `verbose`.
 */
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SW, swHex, swName } from '../../simulator/apdu/sw.ts';
import { formatExchange } from '../../simulator/apdu/trace.ts';
import type { SmartCard } from '../../simulator/card/types.ts';
import { VpcdTransport, VPCD_BASE_PORT, type VpcdExchange } from '../../simulator/transport/vpcd/index.ts';
import { vpcdReaderName } from '../pcsc/index.ts';
import { VirtualCard } from '../../simulator/card/card.ts';
import { pinCounters, reinitSignPassword, resetCounter, setPin } from '../../simulator/issuer/issuer.ts';
import { USER_PINS, type UserPinId } from '../../simulator/pin/pin.ts';
import { loadProfile } from '../../simulator/profile/io.ts';
import { FileSink, SessionRecorder } from '../session/recorder.ts';
import { authCertSha256 as authCertSha256Of } from '../targets/card-host.ts';
import { HARNESS_VERSION } from '../version.ts';
import { ControlServer, ensurePrivateDir, type IssuerCommand, type IssuerRequest } from './control.ts';

/** A card serve can run: a SmartCard, optionally with a close() to release files on shutdown. */
export type ServableCard = SmartCard & { close?(): void | Promise<void> };

/** The seam to the card core: harness/load-card.ts's buildCard has this shape. */
export type BuildCard = (profilePath: string, statePath?: string, atr?: string) => ServableCard | Promise<ServableCard>;

export interface ServeOptions {
  /** Card profile file. */
  card: string;
  /** State file (PINs, retry counters); created on first use. Omit for an in-memory state. */
  state?: string;
  /** ATR override, hex. */
  atr?: string;
  /** vpcd slot: 0 or 1 with Debian's vpcd. */
  slot: number;
  /** vpcd's host (connect) or the address to listen on (reversed). Default 127.0.0.1. */
  host?: string;
  /** vpcd's port for slot 0. Default 35963. */
  basePort?: number;
  /** Reversed mode: the card listens and vpcd connects. */
  reversed?: boolean;
  /** Card-side TCP_QUICKACK fix. Default true. */
  quickAck?: boolean;
  /** Control socket path. Default {@link defaultControlPath}. */
  control?: string;
  /** Also log GET ATR presence polls. */
  verbose?: boolean;
  /** Record the session (harness/session) to this JSON Lines file (`serve --record`). */
  record?: string;
  /** The harness version for the session header (default: the package's). */
  harnessVersion?: string;
}

export interface ServeIO {
  /** One log line (stdout in the CLI). */
  out(line: string): void;
  /** One error/warning line (stderr in the CLI). */
  err(line: string): void;
  /** Clock for timestamps (tests pin it). */
  now?(): Date;
}

export interface RunningServe {
  readonly transport: VpcdTransport;
  readonly card: ServableCard;
  readonly control: ControlServer;
  /** Toggles removal (SIGUSR1). */
  toggle(): Promise<void>;
  /** Warm-resets the card in place (SIGUSR2, control `reset`); returns the fault if the card threw. */
  reset(source: string): string | undefined;
  /** Stops: removes the card from the reader, closes the control socket, closes the card. Idempotent. */
  stop(): Promise<void>;
}

/**
 * `$XDG_RUNTIME_DIR/myna-hil/serve-slot<N>.sock`, or without XDG_RUNTIME_DIR
 * `<tmpdir>/myna-hil-<uid>/serve-slot<N>.sock`: in a directory of this user's alone (mode 0700, made
 * and checked by startServe through ensurePrivateDir), never directly in a shared directory like /tmp.
 */
export function defaultControlPath(slot: number): string {
  const dir = process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'myna-hil') : join(tmpdir(), `myna-hil-${process.getuid!()}`);
  return join(dir, `serve-slot${slot}.sock`);
}

/**
 * Logs the faults the card answered instead of throwing (a state file that could not be written, a
 * bug) as one warning line each, with the status word it answered.
 */
function reportFaults(card: ServableCard, state: string | undefined, warn: (line: string) => void): void {
  if (!(card instanceof VirtualCard)) return;
  card.onFault = (err: unknown, sw: number) => {
    const answered = `, answered ${swHex(sw)} (${swName(sw)})`;
    const file = sw === SW.MEMORY_FAILURE && state ? ` (state file ${state})` : '';
    warn(`card fault${answered}${file}: ${(err as Error)?.message ?? String(err)}`);
  };
}

/** The session file of `serve --record`: the card named by its profile's auth certificate. */
function startServeRecording(opts: ServeOptions, card: ServableCard, reader: string): SessionRecorder {
  let authCertSha256: string | undefined;
  try {
    authCertSha256 = authCertSha256Of(loadProfile(opts.card));
  } catch {
    authCertSha256 = undefined; // the card was built from it already; a header without identity is still a session
  }
  return new SessionRecorder(new FileSink(opts.record!), {
    target: 'serve',
    harness: { name: 'myna-hil', version: opts.harnessVersion ?? HARNESS_VERSION },
    atr: opts.atr ?? card.atr(),
    reader,
    card: { ...(authCertSha256 ? { authCertSha256 } : {}), profile: opts.card },
  });
}

/** What the reader did to the card, as session events (GET ATR polls are not the card's business). */
function recordExchange(recorder: SessionRecorder | undefined, e: VpcdExchange): void {
  if (!recorder) return;
  if (e.kind === 'apdu' && e.command && e.reply) {
    const seq = recorder.command(e.command, 'client');
    if (e.fault) recorder.noResponse(seq, `the card failed and the transport answered instead: ${e.fault}`);
    else recorder.response(seq, e.reply);
  } else if (e.kind === 'power-on' || e.kind === 'power-off' || e.kind === 'reset') recorder.power(e.kind);
}

function stamp(d: Date): string {
  return d.toISOString().slice(11, 23);
}

export async function startServe(opts: ServeOptions, buildCard: BuildCard, io: ServeIO): Promise<RunningServe> {
  const now = io.now ?? (() => new Date());
  const slot = opts.slot;
  const tag = `slot ${slot}`;
  const log = (line: string) => io.out(`${stamp(now())} ${tag} ${line}`);
  const warn = (line: string) => io.err(`${stamp(now())} ${tag} warning: ${line}`);

  const controlPath = opts.control ?? defaultControlPath(slot);
  if (opts.control === undefined) ensurePrivateDir(dirname(controlPath));
  const card = await buildCard(opts.card, opts.state, opts.atr);
  reportFaults(card, opts.state, warn);
  const mode = opts.reversed ? 'listen' : 'connect';
  const transport = new VpcdTransport({
    card,
    slot,
    mode,
    host: opts.host ?? '127.0.0.1',
    basePort: opts.basePort ?? VPCD_BASE_PORT,
    quickAck: opts.quickAck ?? true,
    logger: { info: () => {}, warn },
  });
  const reader = vpcdReaderName(slot);
  let everVisible = false;
  transport.on('visible', () => {
    log(`card visible to pcscd (reader "${reader}" with Debian's vpcd)`);
    everVisible = true;
  });
  transport.on('connected', ({ remote }) => log(`connected to vpcd (${remote}); waiting for its first poll`));
  transport.on('disconnected', ({ reason, wasVisible }) => log(`${wasVisible ? 'card out of the reader' : 'vpcd connection closed'} (${reason})`));
  transport.on('retry', ({ attempt, error }) => {
    if (attempt === 1 && !everVisible) {
      log(`waiting for vpcd at ${transport.host}:${transport.port} (${error}); is pcscd running? bash scripts/pcsc-stack.sh start`);
    }
  });
  const recorder = opts.record ? startServeRecording(opts, card, reader) : undefined;
  transport.on('exchange', (e: VpcdExchange) => {
    recordExchange(recorder, e);
    switch (e.kind) {
      case 'get-atr':
        if (opts.verbose) log('GET ATR (presence poll)');
        break;
      case 'apdu':
        for (const line of formatExchange(e.command!, e.reply!, e.cardMs).split('\n')) log(line);
        break;
      default:
        log(`reader: ${e.kind}`);
    }
  });

  const resetCard = (source: string): string | undefined => {
    recorder?.power('reset');
    const fault = transport.reset();
    if (!fault) log(`card reset in place (${source}): volatile state cleared`);
    return fault;
  };

  /** Issuer operations on the served card (the municipal counter, out of band). Values never logged. */
  const issuer = (command: IssuerCommand, r: IssuerRequest): void => {
    if (!(card instanceof VirtualCard)) throw new Error('this card has no issuer operations');
    const pin = (): UserPinId => {
      if (!(USER_PINS as readonly string[]).includes(r.pin ?? '')) throw new Error(`"pin" must be one of ${USER_PINS.join(', ')}`);
      return r.pin as UserPinId;
    };
    const value = (): string => {
      if (typeof r.value !== 'string') throw new Error('"value" (the new PIN) is missing');
      return r.value;
    };
    if (command === 'issuer/reset-counter') {
      const id = pin();
      resetCounter(card, id);
      log(`issuer: ${id} counter reset to ${card.pin(id).remaining}`);
    } else if (command === 'issuer/set-pin') {
      const id = pin();
      setPin(card, id, value());
      log(`issuer: new ${id} value set (redacted)`);
    } else {
      reinitSignPassword(card, value());
      log('sign password re-initialised after the auth PIN (value redacted)');
    }
  };

  // The control socket is claimed before the card goes into vpcd: a second serve for the slot
  // (its socket in use) must fail without its card ever appearing in the reader.
  let control: ControlServer | undefined;
  try {
    control = await ControlServer.listen(controlPath, {
      remove: async () => {
        recorder?.power('remove');
        await transport.remove();
        log('removed (control)');
      },
      insert: async () => {
        recorder?.power('insert');
        await transport.insert();
        log('inserted (control)');
      },
      reset: () => resetCard('control'),
      status: () => ({ ...transport.status(), pins: card instanceof VirtualCard ? pinCounters(card) : undefined }),
      issuer,
    });
    await transport.start();
  } catch (err) {
    await control?.close();
    await transport.stop();
    await card.close?.();
    recorder?.close();
    throw err;
  }
  const where =
    mode === 'connect'
      ? `connecting to vpcd at ${transport.host}:${transport.port}`
      : `listening for vpcd on ${transport.host}:${transport.port} (reversed mode)`;
  const qa = transport.status().quickAck;
  log(`serving ${opts.card}${opts.state ? ` (state ${opts.state})` : ''} in vpcd slot ${slot}, ${where}`);
  log(`TCP_QUICKACK fix: ${qa.available ? 'on' : `off (${qa.reason})`}`);
  log(
    `control: ${control.path} (POST /remove, /insert, /reset, /issuer/reset-counter, /issuer/set-pin, /reinit-sign-password; GET /status); pid ${process.pid}`,
  );

  let stopping: Promise<void> | undefined;
  const ctl = control;
  return {
    transport,
    card,
    control: ctl,
    reset: resetCard,
    async toggle() {
      if (transport.status().stopped) return;
      if (transport.status().inserted) {
        recorder?.power('remove');
        await transport.remove();
        log('removed (signal)');
      } else {
        recorder?.power('insert');
        await transport.insert();
        log('inserted (signal)');
      }
    },
    stop() {
      stopping ??= (async () => {
        await transport.stop();
        await ctl.close();
        await card.close?.();
        recorder?.close();
        log('stopped');
      })();
      return stopping;
    },
  };
}
