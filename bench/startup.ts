/**
 * Start-up and memory (issue 7): the CLI as a prebuilt bundle (`npm run build` → dist/, run by
 * bin/myna-hil.mjs) against the way it ran before, bundled at run time by bin/launch.mjs into
 * node_modules/.cache (still what bin/run-ts.mjs does), with a warm cache. Same run, interleaved
 * (the order alternates each round), so that load from other processes falls on both alike:
 * - wall time of `serve --help`, spawn → exit, RUNS each;
 * - peak RSS (VmHWM) of `serve --help`, through /usr/bin/time -f %M, RSS_RUNS each;
 * - peak RSS of a process serving a card: `serve --reversed` on a free port (the card listens, no vpcd
 *   connects, so nothing reaches pcscd and no PC/SC lock is needed), VmHWM read from /proc/<pid>/status
 *   once it has printed its last start-up line.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { generateProfile } from '../simulator/profile/generate.ts';
import { saveProfile } from '../simulator/profile/io.ts';
import { exitOf, stopProcess } from './child.ts';
import { loadavg, repoRoot } from './machine.ts';
import { NEW_CLI, OLD_CLI, startupRows, STARTUP_CMD, type Pair } from './startup-rows.ts';
import { fmt, median } from './stats.ts';
import { skippedRow, type Row } from './table.ts';

const RUNS = 25;
const RSS_RUNS = 5;
const WARMUP = 2;
const TIME = '/usr/bin/time';
/** The node arguments before the CLI's own, by way. */
const WAYS = { new: NEW_CLI.split(' ').slice(1), old: OLD_CLI.split(' ').slice(1) } as const;
type Way = keyof typeof WAYS;

/** Runs `fn` for both ways, `runs` rounds, the order alternating each round. */
export async function interleave(runs: number, fn: (way: Way) => number | Promise<number>): Promise<Pair> {
  const out: Pair = { new: [], old: [] };
  for (let i = 0; i < runs; i++) {
    for (const way of i % 2 ? (['old', 'new'] as const) : (['new', 'old'] as const)) out[way].push(await fn(way));
  }
  return out;
}

function runCli(root: string, way: Way, args: string[], wrap: string[] = []): { ms: number; stderr: string } {
  const argv = [...wrap, process.execPath, ...WAYS[way], ...args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`\`${argv.join(' ')}\` exited ${r.status ?? r.signal}: ${r.stderr.trim().slice(-300)}`);
  return { ms, stderr: r.stderr };
}

/** /usr/bin/time -f %M prints the peak RSS in kB as the last line of stderr. */
function peakKb(root: string, way: Way, args: string[]): number {
  const last = runCli(root, way, args, [TIME, '-f', '%M']).stderr.trim().split('\n').at(-1) ?? '';
  const kb = Number(last);
  if (!Number.isInteger(kb) || kb <= 0) throw new Error(`${TIME} -f %M printed "${last}", not a size in kB`);
  return kb;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** VmHWM (kB) of `serve` holding a card, read once it has printed its control line (its last start-up line). */
async function servedKb(root: string, tmp: string, profile: string, way: Way, run: number): Promise<number> {
  const args = ['serve', '--card', profile, '--reversed', '--vpcd-port', String(await freePort()), '--control', join(tmp, `ctl-${way}-${run}.sock`)];
  const p = spawn(process.execPath, [...WAYS[way], ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  p.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  let timer: NodeJS.Timeout | undefined;
  try {
    const up = new Promise<void>((r) => createInterface({ input: p.stdout! }).on('line', (l) => /control: /.test(l) && r()));
    const deadline = new Promise<never>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`serve (${way}) printed no control line within 20 s`)), 20_000)),
    );
    await Promise.race([up, exitOf(p, `serve (${way})`, stderr), deadline]);
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1]);
    if (!kb) throw new Error(`no VmHWM in /proc/${p.pid}/status`);
    return kb;
  } finally {
    clearTimeout(timer);
    await stopProcess(p);
  }
}

export async function benchStartup(log: (s: string) => void): Promise<Row[]> {
  const root = repoRoot();
  if (!existsSync(TIME)) {
    return [skippedRow('start-up group', `${TIME} is missing`, 'needs GNU time: `apt-get install time`', STARTUP_CMD)];
  }
  const start = loadavg();
  log(`startup: load average ${start}; ${WARMUP} untimed runs of each way (builds dist/ and the launch cache if stale)`);
  const help = ['serve', '--help'];
  for (let i = 0; i < WARMUP; i++) for (const way of ['new', 'old'] as const) runCli(root, way, help);

  log(`startup: serve --help wall time, ${RUNS} runs each, interleaved`);
  const helpMs = await interleave(RUNS, (way) => runCli(root, way, help).ms);
  log(`startup:   new median ${fmt(median(helpMs.new))} ms, old median ${fmt(median(helpMs.old))} ms`);
  log(`startup: serve --help peak RSS, ${RSS_RUNS} runs each`);
  const helpKb = await interleave(RSS_RUNS, (way) => peakKb(root, way, help));

  const tmp = mkdtempSync(join(tmpdir(), 'myna-hil-bench-startup-'));
  try {
    log('startup: generating a card profile; peak RSS of a serving process …');
    const profile = join(tmp, 'card.json');
    saveProfile(profile, await generateProfile({}));
    let run = 0;
    const serveKb = await interleave(RSS_RUNS, (way) => servedKb(root, tmp, profile, way, run++));
    return startupRows({ helpMs, helpKb, serveKb }, { start, end: loadavg() });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
