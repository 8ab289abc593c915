/**
 * An exec client runs in a process group of its own (pipes: `detached`, i.e. setsid; PTY: forkpty
 * makes it a session leader), so that a timeout, or the end of the run, reaches everything it started:
 * shells, helpers, a `sleep` left in the background.
 */
import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { waitFor } from '../wait.ts';

/**
 * The executable a command names: a path (relative ones against `baseDir`, the manifest's
 * directory) or a name looked up on PATH. Undefined when there is none, checked before spawning
 * because under a PTY a failed exec is only an exit code and a line of output.
 */
export function resolveCommand(command: string, baseDir: string, path: string | undefined): string | undefined {
  if (command.includes('/')) {
    const file = isAbsolute(command) ? command : resolve(baseDir, command);
    return isExecutable(file) ? file : undefined;
  }
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, command);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Live (not zombie) processes of a process group, from /proc. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z') members.push(Number(entry));
  }
  return members;
}

/** Whether a process exists and is not a zombie (a zombie waits for a parent that may never reap it). */
export function isAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

function readStat(pid: number): { state: string; pgrp: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone, or raced with its exit
  }
  // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, pgrp: Number(fields[2]) };
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* ESRCH: the group is gone already */
  }
}

/**
 * Ends a process group: SIGTERM, then SIGKILL to whatever is still there after `graceMs`.
 * Resolves with whether anything was still running when it was called.
 */
export async function terminateGroup(pgid: number, graceMs: number): Promise<boolean> {
  if (groupMembers(pgid).length === 0) return false;
  signalGroup(pgid, 'SIGTERM');
  const gone = () => groupMembers(pgid).length === 0;
  try {
    await waitFor(gone, { timeoutMs: graceMs, what: `process group ${pgid} to end after SIGTERM` });
  } catch {
    signalGroup(pgid, 'SIGKILL');
    await waitFor(gone, { timeoutMs: 5000, what: `process group ${pgid} to end after SIGKILL` });
  }
  return true;
}
