/**
 * The `module` driver: a kiosk driven through HTTP, a browser or a library is a module exporting
 * `run(ctx)` (harness/clients/client.ts ModuleClient). It gets the card channel, the reader name, the
 * run's values, `prompt` (answered from the scenario's answers, in order), `log` (its stdout) and an
 * AbortSignal fired on timeout. Its result reads like an exec client's: the returned number is the exit
 * code, a throw is exit 1 with the message on stderr (what Node does with an uncaught error), and each
 * prompt shows in stdout as a line, as it would on a terminal with the echo off, so that the same
 * output expectations hold for the module and the CLI form of a client.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ModuleBinding } from '../scenario/model.ts';
import type { ClientRunInput, ClientRunResult, ModuleClient, ModuleClientContext } from './client.ts';
import { emptyResult } from './exec.ts';
import { containsPin, LineSplitter, pinValues } from './output.ts';

export interface ModuleOptions {
  /** How long run() may take to stop after the abort signal before the driver gives up on it. Default 2000 ms. */
  graceMs?: number;
}

const DEFAULT_GRACE_MS = 2000;
const TYPESCRIPT = /\.[cm]?tsx?$/;

export async function runModule(input: ClientRunInput, binding: ModuleBinding, opts: ModuleOptions = {}): Promise<ClientRunResult> {
  const started = performance.now();
  const failed = (why: string): ClientRunResult => ({ ...emptyResult(input, started), startError: input.mask(`${binding.where}: ${why}`) });
  if (!input.channel) return failed('this target gives module clients no card channel');
  const loaded = await loadExport(resolve(input.baseDir, binding.module), binding.export);
  if (typeof loaded === 'string') return failed(loaded);

  const out = new ModuleOutput(input);
  const answers = new AnswerQueue(input);
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort(new Error(`timed out after ${input.timeoutMs} ms`));
  }, input.timeoutMs);

  const ctx: ModuleClientContext = {
    channel: input.channel,
    ...(input.reader === undefined ? {} : { reader: input.reader }),
    vars: input.vars,
    prompt: async (text) => {
      out.stdout(text);
      return answers.take(text, abort.signal);
    },
    log: (line) => out.stdout(line),
    signal: abort.signal,
  };
  const notes: string[] = [];
  const exit = await finish(loaded, ctx, abort.signal, opts.graceMs ?? DEFAULT_GRACE_MS, out, notes);
  clearTimeout(timer);
  return {
    ...out.finish(),
    exit: timedOut ? null : exit,
    timedOut,
    unansweredPrompts: answers.unanswered(),
    durationMs: performance.now() - started,
    ...(notes.length > 0 ? { notes } : {}),
  };
}

/** Runs the client; the exit code, or null when it had to be left running after the abort. */
async function finish(
  run: ModuleClient,
  ctx: ModuleClientContext,
  signal: AbortSignal,
  graceMs: number,
  out: ModuleOutput,
  notes: string[],
): Promise<number | null> {
  const outcome = Promise.resolve()
    .then(() => run(ctx))
    .then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
  const settled = await Promise.race([outcome, abandonedAfterAbort(signal, graceMs)]);
  if (settled === 'abandoned') {
    notes.push(`run() did not return within ${graceMs} ms of the abort signal; it was left running`);
    return null;
  }
  if ('error' in settled) {
    out.stderr(`run() threw: ${(settled.error as Error)?.message ?? String(settled.error)}`);
    return 1;
  }
  if (Number.isInteger(settled.value)) return settled.value;
  out.stderr(`run() resolved with ${JSON.stringify(settled.value) ?? String(settled.value)}, not an exit code (an integer)`);
  return 1;
}

/** Resolves 'abandoned' `graceMs` after the signal fires (a deadline on a client that ignores it). */
function abandonedAfterAbort(signal: AbortSignal, graceMs: number): Promise<'abandoned'> {
  return new Promise((resolve) => {
    signal.addEventListener('abort', () => setTimeout(() => resolve('abandoned'), graceMs).unref(), { once: true });
  });
}

/** The export, or why it cannot be had (a message naming the file and the fix). */
async function loadExport(file: string, name: string): Promise<ModuleClient | string> {
  if (!existsSync(file)) return `module ${file} does not exist`;
  let mod: Record<string, unknown>;
  try {
    mod = TYPESCRIPT.test(file) ? await importTypeScript(file) : await import(pathToFileURL(file).href);
  } catch (err) {
    return `could not load ${file}: ${(err as Error).message}`;
  }
  const fn = mod[name];
  if (typeof fn === 'function') return fn as ModuleClient;
  return `${file} has no function export "${name}" (it exports: ${Object.keys(mod).join(', ') || 'nothing'}); export one, or name it in the manifest's "export"`;
}

/** A .ts module needs a loader: tsx's, when installed (a checkout); else say how to do without. */
async function importTypeScript(file: string): Promise<Record<string, unknown>> {
  let tsImport: (specifier: string, parentURL: string) => Promise<Record<string, unknown>>;
  try {
    ({ tsImport } = await import('tsx/esm/api'));
  } catch {
    throw new Error('it is TypeScript and tsx, which loads it, is not installed here; compile it to a .js or .mjs module, or install tsx');
  }
  return tsImport(pathToFileURL(file).href, import.meta.url);
}

/** The scenario's answers, taken in order by the prompts that match them. */
class AnswerQueue {
  private next = 0;

  constructor(private readonly input: ClientRunInput) {}

  take(text: string, signal: AbortSignal): string {
    signal.throwIfAborted();
    const answer = this.input.answers[this.next];
    if (!answer || !text.includes(answer.prompt)) {
      const wanted = answer ? `the next answer is for a prompt containing "${answer.prompt}"` : 'every answer was used';
      throw new Error(`unexpected prompt "${this.input.mask(text)}": ${wanted}`);
    }
    this.next++;
    return answer.reply;
  }

  unanswered(): string[] {
    return this.input.answers.slice(this.next).map((a) => a.prompt);
  }
}

/** stdout and stderr of a module client: raw for the PIN check, masked for the result and onLine. */
class ModuleOutput {
  private raw = '';
  private readonly text = { stdout: '', stderr: '' };
  private readonly lines = {
    stdout: new LineSplitter((line) => this.input.onLine?.('stdout', this.input.mask(line))),
    stderr: new LineSplitter((line) => this.input.onLine?.('stderr', this.input.mask(line))),
  };

  constructor(private readonly input: ClientRunInput) {}

  stdout(line: string): void {
    this.add('stdout', line);
  }

  stderr(line: string): void {
    this.add('stderr', line);
  }

  finish(): Pick<ClientRunResult, 'stdout' | 'stderr' | 'leakedPin'> {
    return {
      stdout: this.input.mask(this.text.stdout),
      stderr: this.input.mask(this.text.stderr),
      leakedPin: containsPin(this.raw, pinValues(this.input.vars)),
    };
  }

  private add(stream: 'stdout' | 'stderr', line: string): void {
    const text = `${String(line).replace(/\r\n/g, '\n')}\n`;
    this.raw += text;
    this.text[stream] += text;
    this.lines[stream].push(text);
  }
}
