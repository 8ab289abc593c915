/**
 * Starting a recorded session before the card is known: a target begins recording as soon as it
 * touches the card (pcsc: the reset and the allow-list check are part of what the card saw) but learns
 * the ATR and the card's identity only afterwards. {@link SessionCapture} holds the header and the
 * events until {@link SessionCapture.identify}, then writes them in order; nothing is lost if the card
 * is never identified (the header goes out as it is at close).
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../simulator/apdu/codec.ts';
import { InputError } from '../../simulator/errors.ts';
import type { SessionHeader, SessionLine, SessionTarget } from './format.ts';
import { FileSink, type SessionSink, SessionRecorder } from './recorder.ts';

/** Keeps the header back (and every line after it) until the card is identified. */
class HeldHeaderSink implements SessionSink {
  private held: SessionLine[] | undefined = [];
  constructor(private readonly inner: SessionSink) {}

  write(line: SessionLine): void {
    if (this.held) this.held.push(line);
    else this.inner.write(line);
  }

  /** Completes the header with `fields` and writes everything held. */
  release(fields: Partial<SessionHeader>): void {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    const [header, ...events] = held;
    if (header?.type === 'header') this.inner.write({ ...header, ...fields, card: { ...header.card, ...fields.card } });
    for (const e of events) this.inner.write(e);
  }

  close(): void {
    this.release({});
    this.inner.close();
  }
}

export interface CardIdentity {
  atr: Uint8Array | string;
  reader?: string;
  authCertSha256?: string;
  profile?: string;
}

export class SessionCapture {
  readonly recorder: SessionRecorder;
  private readonly sink: HeldHeaderSink;

  constructor(sink: SessionSink, header: { target: SessionTarget; harnessVersion: string; scenario?: { file: string; name: string } }) {
    this.sink = new HeldHeaderSink(sink);
    this.recorder = new SessionRecorder(this.sink, {
      target: header.target,
      harness: { name: 'myna-hil', version: header.harnessVersion },
      atr: '',
      card: {},
      ...(header.scenario ? { scenario: header.scenario } : {}),
    });
  }

  /** The card is known: its header fields are filled in and the held lines written. */
  identify(id: CardIdentity): void {
    const card = {
      ...(id.authCertSha256 ? { authCertSha256: id.authCertSha256 } : {}),
      ...(id.profile ? { profile: id.profile } : {}),
    };
    this.sink.release({
      atr: typeof id.atr === 'string' ? id.atr.toUpperCase() : toHex(id.atr),
      ...(id.reader ? { reader: id.reader } : {}),
      card,
    });
  }

  close(): void {
    this.recorder.close();
  }
}

/** `suite--scenario` in lower case, letters, digits and dashes: stable across runs, readable in a listing. */
export function sessionFileName(scenarioFile: string, scenarioName: string): string {
  const slug = (s: string) =>
    s
      .toLowerCase()
      .replace(/\.ya?ml$/, '')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'unnamed';
  const base = scenarioFile.split(/[\\/]/).pop() ?? scenarioFile;
  return `${slug(base)}--${slug(scenarioName)}.jsonl`;
}

/**
 * Makes the directory `run --record` writes to, or says why it cannot (exit 2, before any scenario):
 * found only when the first session file is opened, it was every scenario's environment error.
 */
export function prepareSessionDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new InputError(
      `--record ${dir}: cannot write session files there (${why}) (fix: give a directory you can write to, or leave --record without one for <out>/sessions)`,
    );
  }
}

/** Opens the session file for one scenario in `dir` (made if missing); a name already used this run gets `-2`, `-3`…. */
export function openSessionFile(dir: string, scenarioFile: string, scenarioName: string, used: Set<string>): FileSink {
  mkdirSync(dir, { recursive: true });
  let name = sessionFileName(scenarioFile, scenarioName);
  for (let i = 2; used.has(name); i++) name = sessionFileName(scenarioFile, `${scenarioName} ${i}`);
  used.add(name);
  return new FileSink(join(dir, name));
}
