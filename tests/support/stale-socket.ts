/**
 * A stale Unix socket file, as a killed `myna-hil serve` leaves behind: a child process binds it and
 * is killed with SIGKILL, so nothing unlinks it (closing a socket in this process would: libuv
 * removes the file) and connecting is refused.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync } from 'node:fs';

export function staleSocket(path: string): void {
  const script = "require('node:net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))";
  const r = spawnSync(process.execPath, ['-e', script, path], { stdio: 'ignore' });
  if (r.signal !== 'SIGKILL' || !lstatSync(path).isSocket()) throw new Error(`could not leave a stale socket at ${path} (${r.signal ?? r.status})`);
}
