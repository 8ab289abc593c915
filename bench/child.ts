/** Child processes of the benchmarks: waiting for their exit and stopping them. */
import type { ChildProcess } from 'node:child_process';

/** Rejects when `p` exits: a process that dies before it is ready must not leave a wait hanging. */
export function exitOf(p: ChildProcess, what: string, stderr: string[]): Promise<never> {
  const died = new Promise<never>((_, reject) => {
    p.once('exit', (code, sig) =>
      reject(new Error(`${what} exited (${sig ?? `code ${code}`}) before it was ready: ${stderr.join('').trim().slice(-600) || 'no output'}`)),
    );
  });
  died.catch(() => {});
  return died;
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the process has exited. */
export async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
