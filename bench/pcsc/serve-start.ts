/**
 * Start-up timing of the PC/SC group: the time from spawning `myna-hil serve` to a watching client
 * seeing the reader's state PRESENT, split by the serve process's own lines ("serving", "card visible").
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { vpcdReaderName } from '../../harness/pcsc/index.ts';
import { fmt } from '../stats.ts';
import { exitOf, stopProcess } from '../child.ts';
import { mustBeEmpty } from './cards.ts';
import type { ServeTimes } from './rows.ts';
import type { Resources, Setup } from './setup.ts';

const ms = (a: bigint, b: bigint) => Number(b - a) / 1e6;

/** One start of `serve` into slot 0: its time stamps (ns) from spawn to PRESENT. */
async function oneStart(res: Resources, setup: Setup, run: number): Promise<{ t0: bigint; tUp: bigint; tVisible: bigint; tPresent: bigint }> {
  const { pcsc } = setup;
  const reader = vpcdReaderName(0);
  let tPresent: bigint | undefined;
  let tUp: bigint | undefined;
  let tVisible: bigint | undefined;
  const stopWatching = pcsc.onStatus((s) => {
    if (s.reader === reader && s.present && !s.mute) tPresent ??= process.hrtime.bigint();
  });
  const ctl = join(setup.tmp, `ctl-${run}.sock`);
  const t0 = process.hrtime.bigint();
  const p = res.spawn(process.execPath, ['bin/myna-hil.mjs', 'serve', '--card', setup.profilePath, '--slot', '0', '--control', ctl], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  p.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  let sawVisible: () => void = () => {};
  const visibleLine = new Promise<void>((r) => (sawVisible = r));
  createInterface({ input: p.stdout! }).on('line', (line) => {
    const now = process.hrtime.bigint();
    if (/ serving /.test(line)) tUp ??= now;
    if (/card visible/.test(line)) {
      tVisible ??= now;
      sawVisible();
    }
  });
  try {
    await Promise.race([Promise.all([pcsc.waitForCard(reader, 'present', { timeoutMs: 10_000 }), visibleLine]), exitOf(p, 'myna-hil serve', stderr)]);
  } finally {
    stopWatching();
    await stopProcess(p);
  }
  if (tPresent === undefined || tUp === undefined || tVisible === undefined) throw new Error(`serve run ${run + 1}: missing a time stamp`);
  return { t0, tUp, tVisible, tPresent };
}

/** `runs` starts of `serve`, each after a random gap; slot 0 must be empty before each. */
export async function serveToPresent(res: Resources, setup: Setup, runs: number, log: (s: string) => void): Promise<ServeTimes> {
  execFileSync(process.execPath, ['bin/myna-hil.mjs', '--help'], { cwd: setup.root, stdio: 'ignore' }); // rebuild dist/ if stale, untimed
  const reader = vpcdReaderName(0);
  const t: ServeTimes = { total: [], up: [], upToVisible: [], visibleToPresent: [] };
  for (let run = 0; run < runs; run++) {
    await mustBeEmpty(setup.pcsc, reader);
    // A random gap, not a wait for state: it puts the start at a random phase of pcscd's 400 ms poll.
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 700));
    const s = await oneStart(res, setup, run);
    t.total.push(ms(s.t0, s.tPresent));
    t.up.push(ms(s.t0, s.tUp));
    t.upToVisible.push(ms(s.tUp, s.tVisible));
    t.visibleToPresent.push(ms(s.tVisible, s.tPresent));
    log(
      `pcsc:   run ${run + 1}: spawn → PRESENT ${fmt(t.total.at(-1)!)} ms (process up ${fmt(t.up.at(-1)!)} ms, up → "card visible" ${fmt(t.upToVisible.at(-1)!)} ms, → PRESENT +${fmt(t.visibleToPresent.at(-1)!, 1)} ms)`,
    );
    await setup.pcsc.waitForCard(reader, 'absent', { timeoutMs: 5000 });
  }
  return t;
}
