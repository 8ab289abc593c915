/**
 * The kiosk as a command line over PC/SC (./cli.ts, and the faulty twin's cli.ts): arguments, the
 * reader chosen by a regular expression, the challenge from a file or stdin, and prompts on the
 * terminal with echo off for a PIN (CLIENT-005), as real tools do: from stdin when it is a terminal,
 * else from /dev/tty (so that the challenge can come through a pipe).
 */
import { closeSync, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import tty from 'node:tty';
import { parseArgs } from 'node:util';
import { openPcsc, type PcscContext } from '../../harness/pcsc/index.ts';
import { pcscChannel } from '../../harness/pcsc/channel.ts';
import { EXIT, runKiosk, type KeyChoice, type KioskFaults, type KioskIo } from './kiosk.ts';

export const USAGE = `usage: kiosk --challenge <file|-> [--key auth|sign] [--reader <regex>] [--out <file>]

  --challenge <file>  the bytes to sign ('-': stdin); the card signs their SHA-256 DigestInfo
  --key auth|sign     the auth key 0017 after the auth PIN (default), or the sign key 001A after the sign password
  --reader <regex>    the PC/SC reader; must match exactly one (default: the only reader)
  --out <file>        write the signature there (raw bytes) instead of printing it as hex

The PIN is read from the terminal with echo off. Exit codes: 0 signed, 2 usage, 3 PIN locked,
4 last try declined, 5 no signature certificate, 6 card or reader error, 7 malformed PIN (not sent),
8 wrong PIN, 130 interrupted.
`;

export const EXIT_INTERRUPTED = 130;

export interface CliOptions {
  key: KeyChoice;
  challenge: string;
  reader?: RegExp;
  out?: string;
}

/** A bad argument: the message names the option and the fix (exit 2). */
export class UsageError extends Error {}

export function parseCliArgs(argv: string[]): CliOptions {
  let values: { key?: string; challenge?: string; reader?: string; out?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { key: { type: 'string' }, challenge: { type: 'string' }, reader: { type: 'string' }, out: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const key = values.key ?? 'auth';
  if (key !== 'auth' && key !== 'sign') throw new UsageError(`--key ${key}: use --key auth or --key sign`);
  if (values.challenge === undefined) throw new UsageError("--challenge is missing: give the file to sign, or '-' for stdin");
  let reader: RegExp | undefined;
  if (values.reader !== undefined) {
    try {
      reader = new RegExp(values.reader);
    } catch (err) {
      throw new UsageError(`--reader ${values.reader}: not a regular expression (${(err as Error).message})`);
    }
  }
  return { key, challenge: values.challenge, reader, out: values.out };
}

/** The one reader `pattern` matches; none or several is a usage error that lists the readers. */
export function pickReader(readers: string[], pattern: RegExp | undefined): string {
  const matches = pattern ? readers.filter((r) => pattern.test(r)) : readers;
  if (matches.length === 1) return matches[0];
  const list = readers.length ? readers.map((r) => `"${r}"`).join(', ') : 'none';
  const what = pattern ? `--reader ${pattern.source} matches ${matches.length} readers` : `${readers.length} readers, and no --reader`;
  throw new UsageError(`${what} (readers: ${list}): give a --reader regex that matches exactly one`);
}

class Interrupted extends Error {}

/** Lines from a terminal; a PIN is read in raw mode, so nothing of it is echoed (exported for its PTY test). */
export class Terminal {
  private pending = '';
  private constructor(
    private readonly input: tty.ReadStream,
    private readonly output: NodeJS.WritableStream,
    private readonly fds: number[],
  ) {}

  static open(): Terminal | undefined {
    if (process.stdin.isTTY) return new Terminal(process.stdin, process.stderr, []);
    try {
      const rfd = openSync('/dev/tty', 'r');
      const wfd = openSync('/dev/tty', 'w');
      return new Terminal(new tty.ReadStream(rfd), new tty.WriteStream(wfd), [rfd, wfd]);
    } catch {
      return undefined;
    }
  }

  async ask(text: string, secret: boolean): Promise<string> {
    // Echo goes off before the prompt shows: a reply typed (or sent by a PTY driver) the moment the prompt appears is not echoed.
    if (secret) this.input.setRawMode(true);
    this.output.write(text);
    try {
      return await this.line(secret);
    } finally {
      if (secret) {
        this.input.setRawMode(false);
        this.output.write('\n');
      }
    }
  }

  /** One line; in raw mode Enter is CR, backspace edits, Ctrl-C interrupts. */
  private line(raw: boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      const take = (): boolean => {
        for (let i = 0; i < this.pending.length; i++) {
          const ch = this.pending[i];
          if (ch === '\r' || ch === '\n') {
            const line = this.pending.slice(0, i);
            this.pending = this.pending.slice(i + (ch === '\r' && this.pending[i + 1] === '\n' ? 2 : 1));
            done();
            resolve(line);
            return true;
          }
          if (raw && ch === '\u0003') {
            done();
            reject(new Interrupted());
            return true;
          }
          if (raw && (ch === '\u007f' || ch === '\b')) {
            this.pending = this.pending.slice(0, Math.max(0, i - 1)) + this.pending.slice(i + 1);
            i = Math.max(-1, i - 2);
          }
        }
        return false;
      };
      const onData = (chunk: Buffer) => {
        this.pending += chunk.toString('utf8');
        take();
      };
      const onEnd = () => {
        done();
        reject(new UsageError('the terminal closed before a line was entered'));
      };
      const done = () => {
        this.input.off('data', onData);
        this.input.off('end', onEnd);
        this.input.pause();
      };
      if (take()) return;
      this.input.on('data', onData);
      this.input.on('end', onEnd);
      this.input.resume();
    });
  }

  close(): void {
    this.input.pause();
    if (this.fds.length) {
      this.input.destroy();
      (this.output as tty.WriteStream).destroy();
      for (const fd of this.fds) {
        try {
          closeSync(fd);
        } catch {
          /* already closed with its stream */
        }
      }
    }
  }
}

async function readChallenge(path: string): Promise<Uint8Array> {
  if (path !== '-') {
    try {
      return await readFile(path);
    } catch (err) {
      throw new UsageError(`--challenge ${path}: ${(err as Error).message}; give a readable file`);
    }
  }
  if (process.stdin.isTTY) throw new UsageError('--challenge -: stdin is the terminal; pipe the challenge in or give a file');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Runs the kiosk over PC/SC; resolves with the exit code. `faults` is for the faulty twin only. */
export async function runCli(argv: string[], faults: KioskFaults = {}): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  let options: CliOptions;
  let challenge: Uint8Array;
  try {
    options = parseCliArgs(argv);
    challenge = await readChallenge(options.challenge);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`kiosk: ${err.message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const terminal = Terminal.open();
  if (!terminal) {
    process.stderr.write('kiosk: no terminal to read the PIN from (a PIN is never read from a pipe or a file): run it in a terminal\n');
    return EXIT.usage;
  }
  let pcsc: PcscContext | undefined;
  try {
    pcsc = await openPcsc();
    const reader = pickReader(await pcsc.listReaders({ timeoutMs: 5000 }), options.reader);
    if (!pcsc.readerState(reader)?.present) process.stdout.write(`カードを置いてください (place the card on "${reader}")\n`);
    await pcsc.waitForCard(reader, 'present', { timeoutMs: 60_000 });
    const card = await pcsc.connect(reader);
    const io: KioskIo = {
      prompt: (text, opts) => terminal.ask(text, opts?.secret ?? false),
      print: (line) => process.stdout.write(`${line}\n`),
    };
    const out = options.out;
    return await runKiosk(pcscChannel(card), io, {
      key: options.key,
      challenge,
      faults,
      writeSignature: out ? (sig) => writeFile(out, sig) : undefined,
    });
  } catch (err) {
    if (err instanceof Interrupted) return EXIT_INTERRUPTED;
    if (err instanceof UsageError) {
      process.stderr.write(`kiosk: ${err.message}\n`);
      return EXIT.usage;
    }
    // No pcscd, no binding, a reader that went away: the card could not be reached.
    process.stderr.write(`kiosk: PC/SC: ${(err as Error).message}\n`);
    return EXIT.cardError;
  } finally {
    terminal.close();
    await pcsc?.close().catch(() => undefined);
  }
}
