/**
 * The one gate for tests that need the real PC/SC stack (pcscd + vpcd + the `pcsclite` binding).
 *
 * - Available: the tests run.
 * - Not available and CI=true: the tests FAIL, naming what is missing (CI must exercise the stack:
 *   `.ci/run` installs and starts it with scripts/pcsc-stack.sh).
 * - Not available outside CI: the tests are skipped, and the skip names the reason and the fix.
 *
 * The readiness check and the machine-wide lock live in harness/pcsc/env.ts (the PC/SC benchmarks use
 * them too); test files using the stack also take {@link acquirePcscLock}, so that PC/SC test files
 * do not run at the same time (vitest runs files in parallel).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'vitest';
import { checkPcscEnv, type PcscEnv } from '../../harness/pcsc/env.ts';

export { acquirePcscLock, checkPcscEnv, PCSCD_COMM, type PcscEnv, VPCD_PORTS } from '../../harness/pcsc/env.ts';

export const IN_CI = ['true', '1', 'yes'].includes((process.env.CI ?? '').toLowerCase());
export const STACK_SCRIPT = resolve(import.meta.dirname, '../../scripts/pcsc-stack.sh');
/** scripts/pcsc-stack.sh's state directory (its pcscd.pid holds "pid starttime" of the pcscd it started). */
export const STATE_DIR = process.env.MYNA_HIL_PCSC_DIR ?? '/tmp/myna-hil-pcsc';

let cached: PcscEnv | undefined;
export function pcscEnv(): PcscEnv {
  cached ??= checkPcscEnv();
  return cached;
}

/**
 * `describe` for tests that need the PC/SC stack: runs them when it is up; otherwise fails them
 * under CI and skips them (with the reason in the name) elsewhere.
 */
export function describePcsc(name: string, fn: () => void): void {
  const env = pcscEnv();
  if (env.available) {
    describe(name, fn);
  } else if (IN_CI) {
    describe(name, () => {
      it('needs the PC/SC stack (CI=true: missing stack is a failure, not a skip)', () => {
        throw new Error(`PC/SC stack unavailable under CI: ${env.reason}`);
      });
    });
  } else {
    describe.skip(`${name} [skipped: ${env.reason}]`, fn);
  }
}

/** True when scripts/pcsc-stack.sh started the running pcscd (so tests may restart it). */
export function pcscdOwnedByScript(): boolean {
  try {
    const [pid, start] = readFileSync(join(STATE_DIR, 'pcscd.pid'), 'utf8').trim().split(/\s+/);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'pcscd' && fields[19] === start && fields[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Runs scripts/pcsc-stack.sh with a deadline (without blocking the event loop); rejects with its output. */
export function runStackScript(args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [STACK_SCRIPT, ...args], { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      const out = `${stdout}${stderr}`;
      if (err) reject(new Error(`pcsc-stack.sh ${args.join(' ')} failed: ${err.message}\n${out}`));
      else resolve(out);
    });
  });
}
