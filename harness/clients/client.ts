/**
 * Drivers for the client under test. A scenario names a capability (`kiosk-sign`); the manifest
 * (harness/scenario/model.ts ClientManifest) binds it to an `exec` program or a `module` driver.
 */
import type { ApduChannel } from '../../simulator/card/channel.ts';
import type { ClientBinding } from '../scenario/model.ts';

/** What a client run gets, after templates were expanded. */
export interface ClientRunInput {
  binding: ClientBinding;
  /** Directory the manifest lives in (relative module paths and cwd resolve against it). */
  baseDir: string;
  /** Template values: `reader`, `pins.auth`, `pins.wrong.auth`, `challengeFile`, `workDir`, `args.x`, `env.X`. */
  vars: Record<string, string>;
  /** Prompt → reply pairs, already expanded; each reply is sent once, only after its prompt appeared. */
  answers: Array<{ prompt: string; reply: string }>;
  /** For module clients (and the PC/SC reader name for exec clients, in vars.reader). */
  channel?: ApduChannel;
  reader?: string;
  timeoutMs: number;
  /** Called with each line of output as it arrives (already masked by the runner's mask function). */
  onLine?: (stream: 'stdout' | 'stderr' | 'pty', line: string) => void;
  /** Replaces every PIN value of the run in a text with `<pin:kind>`. */
  mask: (text: string) => string;
}

export interface ClientRunResult {
  /** Exit code; null when killed. */
  exit: number | null;
  /** Masked, ANSI stripped, CRLF → LF. Under a PTY stdout holds the merged transcript and stderr is ''. */
  stdout: string;
  stderr: string;
  /** Killed on timeout (the whole process group). */
  timedOut: boolean;
  /** Prompts of `answers` that never appeared. */
  unansweredPrompts: string[];
  /** The raw output contained a PIN value of the run (before masking): a finding, reported as failure. */
  leakedPin: boolean;
  durationMs: number;
  /** Set when the client could not be started at all (command not found): an environment error. */
  startError?: string;
  /** What the driver had to do differently, for the report (no PTY available: ran with pipes; leftover processes ended). */
  notes?: string[];
}

/** The context a `module` client's `run(ctx)` receives. */
export interface ModuleClientContext {
  channel: ApduChannel;
  reader?: string;
  vars: Record<string, string>;
  /** Asks for a value the way a TTY prompt would: resolves with the reply paired with this prompt. */
  prompt(text: string): Promise<string>;
  /** A line of output (what an exec client would print on stdout). */
  log(line: string): void;
  signal: AbortSignal;
}

/** What a module exports: `export async function run(ctx): Promise<number>` (the exit code). */
export type ModuleClient = (ctx: ModuleClientContext) => Promise<number>;
