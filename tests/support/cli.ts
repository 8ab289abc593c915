/** Runs the myna-hil command line as a user does, capturing its output and exit code. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/myna-hil.mjs', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Written to the command's standard input, which is then closed (default: no standard input). */
  stdin?: string;
  /** Added to the environment. */
  env?: Record<string, string>;
  /** Deadline: the command is killed (code null) if it has not ended by then, e.g. when it hangs. */
  timeoutMs?: number;
  /** Called with each chunk of standard error as it arrives: lets a test act at a step of the run. */
  onStderr?(chunk: string): void;
}

export function cli(...args: string[]): Promise<Run> {
  return cliWith({}, ...args);
}

export function cliWith(opts: CliOptions, ...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0', ...opts.env },
    });
    const deadline = opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs); // a deadline, not a wait
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => {
      stderr += d;
      opts.onStderr?.(String(d));
    });
    child.stdin?.end(opts.stdin);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(deadline);
      resolve({ code, stdout, stderr });
    });
  });
}
