/**
 * Writes a recorded session (./format.ts) as it happens: one JSON line per event, each written whole
 * with one write call, so a crash leaves every line before it intact. PIN data is masked here, at
 * capture: the caller hands over the real command and nothing after its header is kept when it may
 * carry a PIN.
 */
import { closeSync, fchmodSync, openSync, writeSync } from 'node:fs';
import { toHex } from '../../simulator/apdu/codec.ts';
import { InputError } from '../../simulator/errors.ts';
import { carriesPin } from '../../simulator/apdu/trace.ts';
import type { GuardEvent } from '../targets/guard.ts';
import { type CommandOrigin, type ResponseOrigin, SESSION_FORMAT, SESSION_VERSION, type SessionEvent, type SessionHeader, type SessionLine } from './format.ts';

/** Where the lines go. */
export interface SessionSink {
  write(line: SessionLine): void;
  close(): void;
}

/** Keeps the lines in memory (tests, and replays that read back what they just recorded). */
export class MemorySink implements SessionSink {
  readonly lines: SessionLine[] = [];
  write(line: SessionLine): void {
    this.lines.push(structuredClone(line));
  }
  close(): void {}
}

/**
 * Appends the lines to a file created for it (mode 0600: a session holds the card's public data,
 * certificates with the holder's name among them). An existing file is replaced, and made 0600 too:
 * open's mode applies only to a file it creates.
 */
export class FileSink implements SessionSink {
  private fd: number | undefined;
  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w', 0o600);
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new InputError(`${path}: cannot write the session file (${why}) (fix: give a file path in a directory you can write to)`);
    }
    fchmodSync(this.fd, 0o600);
  }
  write(line: SessionLine): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, `${JSON.stringify(line)}\n`);
  }
  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

export type HeaderFields = Omit<SessionHeader, 'type' | 'format' | 'version' | 'createdAt' | 'atr'> & { atr: Uint8Array | string };

export class SessionRecorder {
  private readonly t0 = performance.now();
  private seq = 0;
  private readonly sent = new Map<number, number>();
  private closed = false;

  constructor(
    private readonly sink: SessionSink,
    header: HeaderFields,
  ) {
    const { atr, ...rest } = header;
    sink.write({
      type: 'header',
      format: SESSION_FORMAT,
      version: SESSION_VERSION,
      createdAt: new Date().toISOString(),
      ...rest,
      atr: typeof atr === 'string' ? atr.toUpperCase() : toHex(atr),
    });
  }

  private now(): number {
    return Math.round((performance.now() - this.t0) * 1000) / 1000;
  }

  private emit(event: SessionEvent): void {
    if (!this.closed) this.sink.write(event);
  }

  power(type: 'power-on' | 'power-off' | 'reset' | 'remove' | 'insert'): void {
    this.emit({ t: this.now(), type });
  }

  /** Records a command (masked when it may carry a PIN) and returns its seq for {@link response}. */
  command(apdu: Uint8Array, by?: CommandOrigin): number {
    const seq = ++this.seq;
    const t = this.now();
    this.sent.set(seq, t);
    const masked = carriesPin(apdu);
    this.emit({
      t,
      type: 'command',
      seq,
      apdu: toHex(masked ? apdu.subarray(0, 4) : apdu),
      ...(masked ? { masked: true as const } : {}),
      ...(by ? { by } : {}),
    });
    return seq;
  }

  response(seq: number, apdu: Uint8Array, from: ResponseOrigin = 'card'): void {
    const t = this.now();
    const ms = Math.round((t - (this.sent.get(seq) ?? t)) * 1000) / 1000;
    this.sent.delete(seq);
    this.emit({ t, type: 'response', seq, apdu: toHex(apdu), ms, ...(from !== 'card' ? { from } : {}) });
  }

  noResponse(seq: number, reason: string): void {
    this.sent.delete(seq);
    this.emit({ t: this.now(), type: 'no-response', seq, reason });
  }

  /** A command and its response in one go (the caller measured nothing itself). */
  exchange(command: Uint8Array, response: Uint8Array, opts: { by?: CommandOrigin; from?: ResponseOrigin } = {}): void {
    this.response(this.command(command, opts.by), response, opts.from);
  }

  /** `hit`: the command the fault hit, whether it reached the card and its status word if it answered (see the format's `fault` event). */
  fault(description: string, hit?: { seq: number; reachedCard: boolean; cardSw?: string }): void {
    this.emit({ t: this.now(), type: 'fault', fault: description, ...(hit ?? {}) });
  }

  guard(event: GuardEvent): void {
    this.emit({ t: this.now(), type: 'guard', event });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sink.close();
  }
}
