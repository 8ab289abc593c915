/**
 * The `exec` driver: runs the client program in its own process group, under a pseudo-terminal
 * (`@lydell/node-pty`) when it reads a PIN from a TTY, or with pipes; answers its prompts (prompts.ts);
 * kills the whole group on timeout (SIGTERM, then SIGKILL after a grace period) and anything the
 * client left running when it exits.
 *
 * PIN leaks (CLIENT-005, CLIENT-006): every PIN value of the run is looked for in the raw output. Under
 * a PTY that includes what the terminal echoes: a client that reads a PIN with the echo on shows it on
 * the screen, which is a leak too (CLIENT-005: a CLI under a pseudo-terminal does not echo). A client
 * that switches the echo off (`read -s`, getpass) has its PIN in the output only if it prints it. With
 * pipes nothing is echoed, so any PIN in the output was printed by the client.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ExecBinding } from '../scenario/model.ts';
import type { ClientRunInput, ClientRunResult } from './client.ts';
import { containsPin, LineSplitter, pinValues, StreamNormaliser } from './output.ts';
import { resolveCommand, terminateGroup } from './process-group.ts';
import { DEFAULT_PROMPT_TIMING, PromptAnswerer, type PromptTiming } from './prompts.ts';
import { expandVars } from './vars.ts';

type PtyModule = typeof import('@lydell/node-pty');
type Stream = 'stdout' | 'stderr' | 'pty';

export interface ExecOptions {
  /** Between SIGTERM and SIGKILL to the process group. Default 2000 ms. */
  killGraceMs?: number;
  prompt?: PromptTiming;
  /** Loads node-pty; tests replace it to see the fallback to pipes. */
  loadPty?: () => Promise<PtyModule>;
}

/** The program, arguments, environment and directory with their templates expanded. */
interface Command {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

/** A started client: its process group id, its input, and its exit. */
interface Running {
  pid: number;
  write(text: string): void;
  endInput(): void;
  /** The exit code (null when killed by a signal), once the main process exited. */
  exited: Promise<number | null>;
  /** All output read (pipes stay open while a leftover process holds them). */
  drained: Promise<void>;
}

const DEFAULT_KILL_GRACE_MS = 2000;
/** How long the output may stay open after the group is gone (a process that left the group). */
const DRAIN_DEADLINE_MS = 2000;

export async function runExec(input: ClientRunInput, binding: ExecBinding, opts: ExecOptions = {}): Promise<ClientRunResult> {
  const started = performance.now();
  const notes: string[] = [];
  const command = expandCommand(input, binding);
  const failed = (why: string): ClientRunResult => ({ ...emptyResult(input, started), startError: input.mask(why) });
  if (!isDirectory(command.cwd)) return failed(`${binding.where}: working directory ${command.cwd} does not exist`);
  const file = resolveCommand(command.file, input.baseDir, command.env.PATH);
  if (!file) return failed(`${binding.where}: command not found: ${command.file} (not an executable file, nor on PATH)`);

  let pty: PtyModule | undefined;
  if (binding.tty ?? input.answers.length > 0) {
    try {
      pty = await (opts.loadPty ?? loadPty)();
    } catch (err) {
      notes.push(`no pseudo-terminal (@lydell/node-pty could not load: ${(err as Error).message}); ran with pipes, so a client that reads /dev/tty fails`);
    }
  }
  const output = new Output(input, pty ? ['pty'] : ['stdout', 'stderr']);
  let running: Running;
  try {
    running = pty ? startPty(pty, { ...command, file }, output) : await startPipes({ ...command, file }, output);
  } catch (err) {
    return failed(`${binding.where}: could not start ${command.file}: ${(err as Error).message}`);
  }
  const answerer = new PromptAnswerer(
    input.answers,
    (reply) => {
      running.write(pty ? `${reply}\r` : `${reply}\n`);
      if (!pty && answerer.done) running.endInput(); // pipes: EOF after the last reply
    },
    opts.prompt ?? DEFAULT_PROMPT_TIMING,
  );
  output.onText = (text) => answerer.push(text);
  if (!pty && input.answers.length === 0) running.endInput();

  const grace = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const endGroup = () =>
    terminateGroup(running.pid, grace).catch((err: Error) => {
      notes.push(err.message); // a process that even SIGKILL did not end (uninterruptible sleep)
      return true;
    });
  let timedOut = false;
  let killing: Promise<unknown> = Promise.resolve();
  const timer = setTimeout(() => {
    timedOut = true;
    killing = endGroup();
  }, input.timeoutMs);

  const exit = await running.exited;
  clearTimeout(timer);
  answerer.stop();
  await killing;
  if (await endGroup()) notes.push('processes the client started were still running after it exited; they were ended');
  if (!(await settles(running.drained, DRAIN_DEADLINE_MS))) notes.push('output stayed open after the process group ended (a process left the group)');
  return {
    ...output.finish(),
    exit,
    timedOut,
    unansweredPrompts: answerer.unanswered(),
    durationMs: performance.now() - started,
    ...(notes.length > 0 ? { notes } : {}),
  };
}

function expandCommand(input: ClientRunInput, binding: ExecBinding): Command {
  const at = (field: string) => `${binding.where} ${field}`;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  for (const [k, v] of Object.entries(binding.env)) env[k] = expandVars(v, input.vars, at(`env.${k}`));
  return {
    file: expandVars(binding.command, input.vars, at('command')),
    args: binding.args.map((a, i) => expandVars(a, input.vars, at(`args[${i}]`))),
    env,
    cwd: resolve(input.baseDir, binding.cwd === undefined ? '.' : expandVars(binding.cwd, input.vars, at('cwd'))),
  };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

async function loadPty(): Promise<PtyModule> {
  const mod = (await import('@lydell/node-pty')) as PtyModule & { default?: PtyModule };
  return typeof mod.spawn === 'function' ? mod : mod.default!;
}

async function settles(p: Promise<void>, deadlineMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), deadlineMs); // a deadline, not a wait for something
  });
  const ok = await Promise.race([p.then(() => true), deadline]);
  clearTimeout(timer);
  return ok;
}

function startPty(pty: PtyModule, cmd: Command, output: Output): Running {
  const term = pty.spawn(cmd.file, cmd.args, { name: 'xterm', cols: 200, rows: 50, cwd: cmd.cwd, env: cmd.env });
  term.onData((data) => output.push('pty', data));
  const exited = new Promise<number | null>((resolve) => {
    term.onExit(({ exitCode, signal }) => resolve(signal ? null : exitCode));
  });
  return { pid: term.pid, write: (text) => writeQuietly(term, text), endInput: () => {}, exited, drained: exited.then(() => {}) };
}

/** A reply racing with the client's exit has nowhere to go: not an error of the run. */
function writeQuietly(term: { write(data: string): void }, text: string): void {
  try {
    term.write(text);
  } catch {
    /* the terminal closed */
  }
}

async function startPipes(cmd: Command, output: Output): Promise<Running> {
  // detached: setsid, so the client and its children form a group of their own.
  const child = spawn(cmd.file, cmd.args, { cwd: cmd.cwd, env: cmd.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const drained = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject); // e.g. EACCES, raced with the check before
  });
  child.on('error', () => {}); // a later kill() failure: the group is signalled directly anyway
  child.stdin.on('error', () => {}); // EPIPE: the client exited before reading its reply
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream].setEncoding('utf8');
    child[stream].on('data', (data: string) => output.push(stream, data));
  }
  const pid = child.pid!; // set once 'spawn' fired
  return { pid, write: (text) => child.stdin.write(text), endInput: () => child.stdin.end(), exited, drained };
}

/** Collects the output: raw (for the PIN check), normalised per stream, lines to onLine, text to the answerer. */
class Output {
  private raw = '';
  private readonly streams = new Map<Stream, { normaliser: StreamNormaliser; lines: LineSplitter; text: string }>();
  onText: (text: string) => void = () => {};

  constructor(
    private readonly input: ClientRunInput,
    names: Stream[],
  ) {
    for (const name of names) {
      const lines = new LineSplitter((line) => input.onLine?.(name, input.mask(line)));
      this.streams.set(name, { normaliser: new StreamNormaliser(), lines, text: '' });
    }
  }

  push(name: Stream, chunk: string): void {
    this.raw += chunk;
    const s = this.streams.get(name)!;
    this.add(s, s.normaliser.push(chunk));
  }

  finish(): Pick<ClientRunResult, 'stdout' | 'stderr' | 'leakedPin'> {
    for (const s of this.streams.values()) {
      this.add(s, s.normaliser.end());
      s.lines.end();
    }
    const text = (name: Stream) => this.input.mask(this.streams.get(name)?.text ?? '');
    return {
      stdout: this.streams.has('pty') ? text('pty') : text('stdout'),
      stderr: text('stderr'),
      leakedPin: containsPin(this.raw, pinValues(this.input.vars)),
    };
  }

  private add(s: { lines: LineSplitter; text: string }, text: string): void {
    if (text === '') return;
    s.text += text;
    s.lines.push(text);
    this.onText(text);
  }
}

/** A run that did not happen: nothing answered, nothing printed. */
export function emptyResult(input: ClientRunInput, started: number): ClientRunResult {
  return {
    exit: null,
    stdout: '',
    stderr: '',
    timedOut: false,
    unansweredPrompts: input.answers.map((a) => a.prompt),
    leakedPin: false,
    durationMs: performance.now() - started,
  };
}
