/**
 * Set-up and clean-up of the PC/SC group: the stack checks, the machine-wide PC/SC lock, a card
 * profile, vicc's packaging workarounds (docs/pcsc-stack.md §3), the two vpcd readers, the loopback
 * route attribute, and every process the group starts. Whatever happens (an exception, a signal),
 * `Resources` stops those processes, undoes the route and releases the lock.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPcsc, vpcdReaderName, type PcscContext } from '../../harness/pcsc/index.ts';
import { acquirePcscLock, checkPcscEnv } from '../../harness/pcsc/env.ts';
import { generateProfile } from '../../simulator/profile/generate.ts';
import { saveProfile } from '../../simulator/profile/io.ts';
import { loadavg } from '../machine.ts';

export const VICC = '/usr/bin/vicc';
const VICC_PYPATH = '/usr/lib/python3/site-packages/virtualsmartcard';
const CRYPTODOME = '/usr/lib/python3/dist-packages/Cryptodome';

const ROUTE_ARGS = ['local', '127.0.0.1', 'dev', 'lo', 'proto', 'kernel', 'scope', 'host', 'src', '127.0.0.1', 'table', 'local'];

export function routeHasQuickack(): boolean {
  return execFileSync('ip', ['route', 'show', 'table', 'local', '127.0.0.1'], { encoding: 'utf8' }).includes('quickack 1');
}

/** vicc with the two packaging workarounds: PYTHONPATH, and a Crypto → Cryptodome symlink in `pyshim`. */
export interface ViccSetup {
  /** Files vicc needs that are not installed (empty: vicc can run). */
  missing: string[];
  env: NodeJS.ProcessEnv;
  /** The environment as the results' command column shows it. */
  envLabel: string;
}

/** What the measurements need, once the lock is held. */
export interface Setup {
  root: string;
  tmp: string;
  profilePath: string;
  pcsc: PcscContext;
  vicc: ViccSetup;
  loadStart: string;
}

/**
 * Everything the group must undo: its processes, the route attribute, the lock, the temp directory,
 * the PC/SC context. `install()` hooks process exit and signals as a last resort; `close()` is the
 * orderly end.
 */
export class Resources {
  readonly live = new Set<ChildProcess>();
  private routeSetByUs = false;
  private release: (() => void) | undefined;
  tmp: string | undefined;
  ctx: PcscContext | undefined;

  constructor(readonly root: string) {}

  /** Spawns a process that the group stops at its end (or kills on exit). */
  spawn(cmd: string, args: string[], opts: Parameters<typeof spawn>[2] = {}): ChildProcess {
    const p = spawn(cmd, args, { cwd: this.root, ...opts });
    this.live.add(p);
    p.once('exit', () => this.live.delete(p));
    p.on('error', () => {});
    return p;
  }

  /** `quickack-route on`, machine-wide, undone by `routeOff()` or at the end. */
  routeOn(): void {
    execFileSync('bash', ['scripts/pcsc-stack.sh', 'quickack-route', 'on'], { cwd: this.root, stdio: 'ignore' });
    this.routeSetByUs = true;
    if (!routeHasQuickack()) throw new Error('setting the loopback route attribute quickack 1 failed');
  }

  /** Undoes `quickack-route on` if this group set it (synchronous: also used from the exit handler). */
  routeOff(): void {
    if (!this.routeSetByUs) return;
    try {
      execFileSync('bash', ['scripts/pcsc-stack.sh', 'quickack-route', 'off'], { cwd: this.root, stdio: 'ignore', timeout: 10_000 });
    } catch {
      execFileSync('ip', ['route', 'change', ...ROUTE_ARGS], { stdio: 'ignore' });
    }
    if (routeHasQuickack()) throw new Error('the loopback route still has quickack 1');
    this.routeSetByUs = false;
  }

  /** Last resort, synchronous: the process is exiting (an exception, a signal) with things still up. */
  private readonly emergency = () => {
    for (const p of this.live) p.kill('SIGKILL');
    try {
      this.routeOff();
    } catch {
      process.stderr.write('bench: pcsc: could not undo the loopback route quickack: run `bash scripts/pcsc-stack.sh quickack-route off`\n');
    }
    this.release?.();
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
  };

  private readonly onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`bench: pcsc: ${sig}: cleaning up\n`);
    this.emergency();
    process.exit(130);
  };

  install(): void {
    process.on('exit', this.emergency);
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  /** Takes the machine-wide PC/SC lock (waits while other PC/SC tests run). */
  async lock(): Promise<void> {
    this.release = await acquirePcscLock(600_000);
  }

  /** The orderly end: stops every process, undoes the route, closes the context, releases the lock. */
  async close(log: (s: string) => void): Promise<void> {
    const stopping = [...this.live].map(
      (p) =>
        new Promise<void>((r) => {
          if (p.exitCode !== null || p.signalCode !== null) return r();
          p.once('exit', () => r());
          p.kill('SIGTERM');
          setTimeout(() => p.kill('SIGKILL'), 5000).unref();
        }),
    );
    await Promise.all(stopping);
    try {
      this.routeOff();
    } catch (err) {
      log(`pcsc: could not undo the loopback route (${(err as Error).message}): run \`bash scripts/pcsc-stack.sh quickack-route off\``);
    }
    await this.ctx?.close().catch(() => {});
    this.release?.();
    this.release = undefined;
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
    this.tmp = undefined;
    process.off('exit', this.emergency);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

function viccSetup(tmp: string): ViccSetup {
  const missing = [VICC, join(VICC_PYPATH, 'virtualsmartcard'), CRYPTODOME].filter((p) => !existsSync(p));
  const pyshim = join(tmp, 'pyshim');
  if (!missing.length) {
    mkdirSync(pyshim);
    symlinkSync(CRYPTODOME, join(pyshim, 'Crypto'));
  }
  return {
    missing,
    env: { ...process.env, PYTHONPATH: `${VICC_PYPATH}:${pyshim}` },
    envLabel: `PYTHONPATH=${VICC_PYPATH}:<dir with Crypto → ${CRYPTODOME}>`,
  };
}

/** Takes the lock, re-checks pcscd, makes a profile and vicc's shim, opens PC/SC and checks both vpcd readers. */
export async function setUp(res: Resources, log: (s: string) => void): Promise<Setup> {
  log('pcsc: taking the machine-wide PC/SC lock (waits while other PC/SC tests run) …');
  await res.lock();
  const again = checkPcscEnv();
  if (!again.available) throw new Error(`pcscd went away while waiting for the lock: ${again.reason}; bash scripts/pcsc-stack.sh start`);
  const loadStart = loadavg();
  log(`pcsc: lock taken; load average ${loadStart}`);

  const tmp = mkdtempSync(join(tmpdir(), 'myna-hil-bench-pcsc-'));
  res.tmp = tmp;
  const profilePath = join(tmp, 'card.json');
  log('pcsc: generating a card profile …');
  saveProfile(profilePath, await generateProfile({}));
  const vicc = viccSetup(tmp);

  const pcsc = await openPcsc();
  res.ctx = pcsc;
  const readers = await pcsc.listReaders({ timeoutMs: 5000 });
  for (const s of [0, 1]) {
    if (!readers.includes(vpcdReaderName(s)))
      throw new Error(`pcscd has no reader "${vpcdReaderName(s)}" (readers: ${readers.join(', ')}); is vsmartcard-vpcd installed?`);
  }
  return { root: res.root, tmp, profilePath, pcsc, vicc, loadStart };
}
