/**
 * Test support for tests/state: a TypeScript fixture run as a child process (bin/run-ts.mjs), whose
 * stdout lines the test waits on (never a sleep).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../support/wait.ts';

const RUN_TS = fileURLToPath(new URL('../../bin/run-ts.mjs', import.meta.url));

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** Lines printed on stdout so far. */
  lines: string[];
  /** Resolves with the exit signal or code once the child has ended. */
  ended: Promise<NodeJS.Signals | number | null>;
  /** Waits until the child printed `line`; fails early if it ends or prints something else first. */
  waitForLine(line: string): Promise<void>;
}

/** Starts tests/state/fixtures/<name>.ts with `args`; its stdin is a pipe (end it to let it exit). */
export function startFixture(name: string, ...args: string[]): Child {
  const file = fileURLToPath(new URL(`./fixtures/${name}.ts`, import.meta.url));
  const proc = spawn(process.execPath, [RUN_TS, file, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  let buf = '';
  let exited = false;
  proc.stdout!.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  proc.stderr!.on('data', (d) => (stderr += d));
  const ended = new Promise<NodeJS.Signals | number | null>((resolve) =>
    proc.on('exit', (code, signal) => {
      exited = true;
      resolve(signal ?? code);
    }),
  );
  return {
    proc,
    pid: proc.pid!,
    lines,
    ended,
    async waitForLine(line) {
      const seen = () => (lines.includes(line) ? 'ok' : lines.length || exited ? 'other' : undefined);
      const outcome = await waitFor(seen, { timeoutMs: 30_000, what: `${name} to print "${line}"` }).catch((err: Error) => err);
      if (outcome === 'ok') return;
      proc.kill('SIGKILL');
      throw new Error(
        `${name} printed ${JSON.stringify(lines)}${exited ? ' and ended' : ''} instead of "${line}" (${outcome === 'other' ? 'early' : (outcome as Error).message}); stderr: ${stderr}`,
      );
    },
  };
}
