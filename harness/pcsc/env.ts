/**
 * Is the real PC/SC stack (pcscd + vpcd + the `pcsclite` binding) up, and the machine-wide lock of
 * its users. Shared by the PC/SC tests (through tests/support/pcsc-env.ts) and the PC/SC benchmarks.
 *
 * Readiness is checked the way scripts/pcsc-stack.sh checks it: pcscd's client socket exists, and
 * vpcd's ports are in LISTEN state (read from /proc/net/tcp). Nothing ever connects to a vpcd port to
 * probe it: that would insert a card.
 *
 * There is one pcscd per machine and one card per vpcd slot, so whatever uses the stack takes
 * {@link acquirePcscLock} first (vitest runs test files in parallel; a benchmark may run meanwhile).
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../wait.ts';

export const PCSCD_COMM = '/run/pcscd/pcscd.comm';
export const VPCD_PORTS = [35963, 35964] as const;

export interface PcscEnv {
  available: boolean;
  /** Why not (undefined when available). */
  reason?: string;
}

function listeningTcpPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 3 && f[3] === '0A') ports.add(parseInt(f[1].split(':')[1], 16));
    }
  }
  return ports;
}

/** Checks (without side effects) whether pcscd with vpcd is up and the binding loads. */
export function checkPcscEnv(): PcscEnv {
  const fix = 'run `bash scripts/pcsc-stack.sh install && bash scripts/pcsc-stack.sh start` (and `npm install` for the optional pcsclite binding)';
  try {
    createRequire(import.meta.url)('pcsclite');
  } catch (err) {
    return { available: false, reason: `the npm package pcsclite does not load (${(err as Error).message.split('\n')[0]}); ${fix}` };
  }
  let isSocket = false;
  try {
    isSocket = statSync(PCSCD_COMM).isSocket();
  } catch {
    // absent
  }
  if (!isSocket) return { available: false, reason: `pcscd is not running (${PCSCD_COMM} is not a socket); ${fix}` };
  const listening = listeningTcpPorts();
  const missing = VPCD_PORTS.filter((p) => !listening.has(p));
  if (missing.length) {
    return { available: false, reason: `vpcd is not listening on ${missing.join(', ')} (pcscd without the vsmartcard-vpcd reader, or reversed mode); ${fix}` };
  }
  return { available: true };
}

const LOCK_DIR = join(tmpdir(), 'myna-hil-pcsc-tests.lock');

function lockHolderAlive(): boolean {
  let pidText: string;
  try {
    pidText = readFileSync(join(LOCK_DIR, 'pid'), 'utf8');
  } catch {
    // No pid file yet: the holder is between mkdir and write, unless the lock is old.
    try {
      return Date.now() - statSync(LOCK_DIR).mtimeMs < 5000;
    } catch {
      return false;
    }
  }
  const pid = Number(pidText);
  if (!pid) return true; // being written
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the machine-wide lock for PC/SC tests (a directory; a holder that died is taken over).
 * Returns the release function. Waits on the lock's state with a deadline.
 */
export async function acquirePcscLock(timeoutMs = 240_000): Promise<() => void> {
  await waitFor(
    () => {
      try {
        mkdirSync(LOCK_DIR);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (!lockHolderAlive()) rmSync(LOCK_DIR, { recursive: true, force: true });
        return false;
      }
      const fd = openSync(join(LOCK_DIR, 'pid'), 'w');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    },
    { timeoutMs, intervalMs: 50, what: `the PC/SC test lock ${LOCK_DIR}` },
  );
  let released = false;
  return () => {
    if (released) return;
    released = true;
    rmSync(LOCK_DIR, { recursive: true, force: true });
  };
}
