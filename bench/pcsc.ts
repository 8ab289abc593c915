/**
 * PC/SC benchmarks (issue 3): the card through the real stack (the project's client harness/pcsc →
 * pcscd → vsmartcard's vpcd → the card over TCP), compared in ONE run with the floor of the stack and
 * with vsmartcard's reference card vicc, under the same setting.
 *
 * Cards (each in its own process, as in real use; docs/pcsc-stack.md §3, §6):
 * - ours:  the virtual My Number Card behind simulator/transport/vpcd (bench/pcsc-card.ts myna …);
 * - floor: a card with no logic that answers every APDU 90 00, behind the same transport
 *          (bench/pcsc-card.ts floor …): client + pcscd + vpcd + our transport, nothing else;
 * - vicc:  Debian's python3-virtualsmartcard 0.8, `vicc -t iso7816`, with the two packaging
 *          workarounds of docs/pcsc-stack.md §3 (PYTHONPATH and a Crypto → Cryptodome symlink).
 *
 * Settings:
 * - stock Debian 12: vpcd 0.8 stalls every frame for the delayed-ACK timer (about 40 ms) unless the
 *   card re-arms TCP_QUICKACK ("card-side fix", our transport's `quickAck`). vicc has no such fix.
 * - route: the loopback route attribute `quickack 1` (scripts/pcsc-stack.sh quickack-route on,
 *   machine-wide, undone at the end): no stall for any card. The same-setting comparison.
 *
 * Method: an open SCARD_SHARE_SHARED T=1 handle per reader; two cards at a time (vpcd has two slots),
 * their APDU streams interleaved in blocks so that load from other processes on this shared machine
 * falls on both alike; 20 warm-ups, then N APDUs each timed with process.hrtime around the client's
 * transmit(); every response's status word is checked. Then the time from spawning `myna-hil serve` to
 * a watching client seeing the reader's state PRESENT, 10 runs with random gaps.
 *
 * Needs pcscd (bash scripts/pcsc-stack.sh start): without it the group says so and is skipped. Holds
 * the machine-wide PC/SC lock (harness/pcsc/env.ts) for the whole group; waits only on state,
 * with deadlines; stops every process it started and undoes the route even on failure.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { openPcsc, vpcdReaderName, type PcscCard, type PcscContext } from '../harness/pcsc/index.ts';
import { fromHex, toHex } from '../simulator/apdu/codec.ts';
import { generateProfile } from '../simulator/profile/generate.ts';
import { saveProfile } from '../simulator/profile/io.ts';
import { acquirePcscLock, checkPcscEnv } from '../harness/pcsc/env.ts';
import { fmt, median, percentile } from './stats.ts';
import { skippedRow, type Row } from './table.ts';

const GROUP_CMD = 'npm run bench -- --only pcsc';
const N = 1000;
const N_STALLED = 100;
const WARMUP = 20;
const SERVE_RUNS = 10;
/** APDUs per probe before switching to the next card: small, so that load bursts fall on all cards alike. */
const BLOCK = 10;

const SELECT_JPKI = fromHex('00A4040C0AD392F000260100000001');
const SELECT_PIN_EF = fromHex('00A4020C020018');
const VERIFY_QUERY = fromHex('00200080');
/** vicc's iso7816 card crashes on SELECT with P2=00 (docs/pcsc-stack.md §3.3); SELECT MF with P2=0C → 90 00. */
const SELECT_MF = fromHex('00A4000C023F00');
const VICC_ATR = '3B951381018073FF01000B';
/** Short APDUs only: the largest response is 256 bytes + SW. */
const MAX_RESPONSE = 258;

const VICC = '/usr/bin/vicc';
const VICC_PYPATH = '/usr/lib/python3/site-packages/virtualsmartcard';
const CRYPTODOME = '/usr/lib/python3/dist-packages/Cryptodome';

type CardSpec = { kind: 'myna' | 'floor'; quickAck: boolean } | { kind: 'vicc' };

function label(spec: CardSpec): string {
  if (spec.kind === 'vicc') return 'vicc';
  return `${spec.kind === 'myna' ? 'ours' : 'floor'} (quickAck ${spec.quickAck ? 'on' : 'off'})`;
}

const sameSpec = (a: CardSpec, b: CardSpec) => a.kind === b.kind && (a.kind === 'vicc' || (b.kind !== 'vicc' && a.quickAck === b.quickAck));

/** The repository root (this file may run from a bundle under node_modules/.cache). */
function findRoot(): string {
  let dir = import.meta.dirname;
  for (;;) {
    try {
      if (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name === 'myna-hil') return dir;
    } catch {
      // not here
    }
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

const ROUTE_ARGS = ['local', '127.0.0.1', 'dev', 'lo', 'proto', 'kernel', 'scope', 'host', 'src', '127.0.0.1', 'table', 'local'];

function routeHasQuickack(): boolean {
  return execFileSync('ip', ['route', 'show', 'table', 'local', '127.0.0.1'], { encoding: 'utf8' }).includes('quickack 1');
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ');

const stats = (us: number[]) => ({ median: median(us), p99: percentile(us, 99), max: Math.max(...us), n: us.length });

function fmtUs(us: number): string {
  return us >= 10_000 ? `${fmt(us / 1000, 1)} ms` : `${fmt(us)} µs`;
}

const describeRtt = (us: number[]) => {
  const s = stats(us);
  return `median ${fmtUs(s.median)}, p99 ${fmtUs(s.p99)} (N=${s.n})`;
};

/** A card this group put into a reader. */
interface Inserted {
  spec: CardSpec;
  slot: number;
  reader: string;
  proc: ChildProcess;
  /** How the card process was started (for the results' command column). */
  command: string;
  handle: PcscCard;
  /** The card-side fix was asked for but is unavailable (no koffi): the label would lie. */
  quickAckUnavailable?: string;
}

interface Probe {
  id: string;
  ins: Inserted;
  /** Untimed APDUs sent before each block (e.g. SELECT EF for the VERIFY query). */
  setup: Uint8Array[];
  apdu: Uint8Array;
  expectSw: number;
  samples: number[];
}

export async function benchPcsc(log: (s: string) => void): Promise<Row[]> {
  const env = checkPcscEnv();
  if (!env.available) {
    const msg = env.reason ?? 'pcscd is not available';
    log(`pcsc: skipped: ${msg}`);
    log('pcsc: to run this group: bash scripts/pcsc-stack.sh start   (then: npm run bench -- --only pcsc)');
    return [skippedRow('PC/SC group (pcscd + vpcd)', msg, 'needs pcscd: `bash scripts/pcsc-stack.sh start`', GROUP_CMD)];
  }

  const root = findRoot();
  const live = new Set<ChildProcess>();
  let routeSetByUs = false;
  let release: (() => void) | undefined;
  let tmp: string | undefined;

  /** Undoes `quickack-route on` if this group set it (synchronous: also used from the exit handler). */
  const routeOff = () => {
    if (!routeSetByUs) return;
    try {
      execFileSync('bash', ['scripts/pcsc-stack.sh', 'quickack-route', 'off'], { cwd: root, stdio: 'ignore', timeout: 10_000 });
    } catch {
      execFileSync('ip', ['route', 'change', ...ROUTE_ARGS], { stdio: 'ignore' });
    }
    if (routeHasQuickack()) throw new Error('the loopback route still has quickack 1');
    routeSetByUs = false;
  };
  // Last resort, synchronous: the process is exiting (an exception, a signal) with things still up.
  const emergency = () => {
    for (const p of live) p.kill('SIGKILL');
    try {
      routeOff();
    } catch {
      process.stderr.write('bench: pcsc: could not undo the loopback route quickack: run `bash scripts/pcsc-stack.sh quickack-route off`\n');
    }
    release?.();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`bench: pcsc: ${sig}: cleaning up\n`);
    emergency();
    process.exit(130);
  };
  process.on('exit', emergency);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const rows: Row[] = [];
  let ctx: PcscContext | undefined;
  const slots: (Inserted | undefined)[] = [undefined, undefined];
  let watchdog: NodeJS.Timeout | undefined;
  try {
    log('pcsc: taking the machine-wide PC/SC lock (waits while other PC/SC tests run) …');
    release = await acquirePcscLock(600_000);
    const again = checkPcscEnv();
    if (!again.available) throw new Error(`pcscd went away while waiting for the lock: ${again.reason}; bash scripts/pcsc-stack.sh start`);
    const loadStart = loadavg();
    log(`pcsc: lock taken; load average ${loadStart}`);

    tmp = mkdtempSync(join(tmpdir(), 'myna-hil-bench-pcsc-'));
    const profilePath = join(tmp, 'card.json');
    log('pcsc: generating a card profile …');
    saveProfile(profilePath, await generateProfile({}));

    const viccMissing = [VICC, join(VICC_PYPATH, 'virtualsmartcard'), CRYPTODOME].filter((p) => !existsSync(p));
    const pyshim = join(tmp, 'pyshim');
    if (!viccMissing.length) {
      mkdirSync(pyshim);
      symlinkSync(CRYPTODOME, join(pyshim, 'Crypto'));
    }
    const viccEnv = `PYTHONPATH=${VICC_PYPATH}:<dir with Crypto → ${CRYPTODOME}>`;

    ctx = await openPcsc();
    const readers = await ctx.listReaders({ timeoutMs: 5000 });
    for (const s of [0, 1]) {
      if (!readers.includes(vpcdReaderName(s))) throw new Error(`pcscd has no reader "${vpcdReaderName(s)}" (readers: ${readers.join(', ')}); is vsmartcard-vpcd installed?`);
    }
    const pcsc = ctx;

    // Progress counter for the watchdog: vpcd has no timeouts, so a card that stops answering would
    // hang transmit() forever. Killing the card processes makes the pending call fail instead.
    let progress = 0;
    let seen = -1;
    let stuckSince = Date.now();
    let watchdogFired = false;
    watchdog = setInterval(() => {
      if (progress !== seen) {
        seen = progress;
        stuckSince = Date.now();
      } else if (Date.now() - stuckSince > 30_000 && !watchdogFired) {
        watchdogFired = true;
        log('pcsc: no progress for 30 s (a card stopped answering?): stopping the card processes');
        for (const p of live) p.kill('SIGKILL');
      }
    }, 1000);
    watchdog.unref();

    const exitOf = (p: ChildProcess, what: string, stderr: string[]) =>
      new Promise<never>((_, reject) => {
        p.once('exit', (code, sig) => reject(new Error(`${what} exited (${sig ?? `code ${code}`}) before it was ready: ${stderr.join('').trim().slice(-600) || 'no output'}`)));
      });

    const spawnTracked = (cmd: string, args: string[], opts: Parameters<typeof spawn>[2] = {}) => {
      const p = spawn(cmd, args, { cwd: root, ...opts });
      live.add(p);
      p.once('exit', () => live.delete(p));
      p.on('error', () => {});
      return p;
    };

    const stopProcess = async (p: ChildProcess) => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    };

    const mustBeEmpty = async (reader: string) => {
      try {
        await pcsc.waitForCard(reader, 'absent', { timeoutMs: 3000 });
      } catch {
        const s = pcsc.readerState(reader);
        throw new Error(
          `"${reader}" holds a card this benchmark did not insert (ATR ${s ? toHex(s.atr) : '?'}): another myna-hil serve, vicc or test ` +
            'is using the reader outside the PC/SC lock. Stop it and run the benchmark again.',
        );
      }
    };

    const insert = async (slot: number, spec: CardSpec): Promise<Inserted> => {
      const reader = vpcdReaderName(slot);
      await mustBeEmpty(reader);
      const stderr: string[] = [];
      let p: ChildProcess;
      let command: string;
      let visible: Promise<unknown> = Promise.resolve();
      let started: Promise<{ quickAck: { available: boolean; reason?: string } }> | undefined;
      if (spec.kind === 'vicc') {
        if (viccMissing.length) throw new Error(`vicc is not installed (${viccMissing.join(', ')} missing): bash scripts/pcsc-stack.sh install`);
        const port = String(35963 + slot);
        p = spawnTracked(VICC, ['-t', 'iso7816', '-P', port], {
          env: { ...process.env, PYTHONPATH: `${VICC_PYPATH}:${pyshim}` },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        command = `${viccEnv} ${VICC} -t iso7816 -P ${port}`;
      } else {
        const args = ['bin/run-ts.mjs', 'bench/pcsc-card.ts', spec.kind, String(slot), spec.quickAck ? 'on' : 'off', ...(spec.kind === 'myna' ? [profilePath] : [])];
        p = spawnTracked(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
        command = `node ${args.join(' ').replace(profilePath, '<profile.json>')}`;
        const events = new Map<string, (v: Record<string, unknown>) => void>();
        const on = <T>(ev: string) => new Promise<T>((r) => events.set(ev, r as (v: Record<string, unknown>) => void));
        started = on('started');
        visible = on('visible');
        createInterface({ input: p.stdout! }).on('line', (line) => {
          try {
            const o = JSON.parse(line) as Record<string, unknown>;
            events.get(String(o.event))?.(o);
          } catch {
            // not ours
          }
        });
      }
      p.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
      const died = exitOf(p, label(spec), stderr);
      died.catch(() => {});
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const s = pcsc.readerState(reader);
          const why =
            s?.present && spec.kind !== 'vicc'
              ? `"${reader}" shows a card (ATR ${toHex(s.atr)}) but vpcd never polled ours: another card took the reader ` +
                '(a myna-hil serve, vicc or test outside the PC/SC lock); stop it and run the benchmark again'
              : `"${reader}" is ${s?.present ? 'present' : 'empty'}; card output: ${stderr.join('').trim().slice(-300) || 'none'}`;
          reject(new Error(`${label(spec)}: not inserted within 15 s: ${why}`));
        }, 15_000);
      });
      try {
        const [st] = await Promise.race([Promise.all([started, visible, pcsc.waitForCard(reader, 'present', { timeoutMs: 15_000 })]), died, deadline]).finally(() =>
          clearTimeout(timer),
        );
        const state = pcsc.readerState(reader)!;
        if (spec.kind === 'vicc' && toHex(state.atr) !== VICC_ATR) throw new Error(`"${reader}" shows ATR ${toHex(state.atr)}, not vicc's`);
        const handle = await pcsc.connect(reader, { share: 'shared', protocol: 'T1' });
        const ins: Inserted = { spec, slot, reader, proc: p, command, handle };
        if (spec.kind !== 'vicc' && spec.quickAck && st && !st.quickAck.available) {
          ins.quickAckUnavailable = st.quickAck.reason ?? 'unavailable';
          log(`pcsc: WARNING: ${label(spec)}: the card-side fix is unavailable (${ins.quickAckUnavailable})`);
        }
        return ins;
      } catch (err) {
        await stopProcess(p);
        throw err;
      }
    };

    const remove = async (ins: Inserted) => {
      await ins.handle.disconnect('leave').catch(() => {});
      await stopProcess(ins.proc);
      await pcsc.waitForCard(ins.reader, 'absent', { timeoutMs: 5000 });
    };

    const ensure = async (slot: number, spec: CardSpec | undefined): Promise<Inserted | undefined> => {
      const cur = slots[slot];
      if (cur && spec && sameSpec(cur.spec, spec) && cur.proc.exitCode === null) return cur;
      if (cur) {
        slots[slot] = undefined;
        await remove(cur);
      }
      if (!spec) return undefined;
      log(`pcsc: inserting ${label(spec)} into "${vpcdReaderName(slot)}" …`);
      slots[slot] = await insert(slot, spec);
      return slots[slot];
    };

    const send = async (ins: Inserted, apdu: Uint8Array, expectSw: number) => {
      const r = await ins.handle.transmit(apdu, { maxResponseLength: MAX_RESPONSE });
      const sw = r.length >= 2 ? (r[r.length - 2] << 8) | r[r.length - 1] : -1;
      if (sw !== expectSw) throw new Error(`${label(ins.spec)}: ${toHex(apdu)} answered ${toHex(r) || '(nothing)'}, expected ${expectSw.toString(16).toUpperCase()}`);
    };

    /**
     * Warm-up, then N timed APDUs per entry of `rotation`, interleaved in blocks. A probe may appear
     * twice (then it gets 2N samples): [ours SELECT, floor, ours VERIFY, floor] keeps each card process
     * idle for the same time between its blocks, which a plain [SELECT, VERIFY, floor] would not.
     */
    const measure = async (title: string, rotation: Probe[], n: number, block: number) => {
      const probes = [...new Set(rotation)];
      log(`pcsc: ${title}: ${rotation.map((p) => p.id).join(' → ')}: ${WARMUP} warm-ups, then N=${n} per turn, interleaved in blocks of ${block} (load ${loadavg()})`);
      for (const p of probes) {
        for (const s of p.setup) await send(p.ins, s, 0x9000);
        for (let i = 0; i < WARMUP; i++) await send(p.ins, p.apdu, p.expectSw);
      }
      let lastReport = 0;
      for (let done = 0; done < n; done += block) {
        const k = Math.min(block, n - done);
        for (const p of rotation) {
          for (const s of p.setup) await send(p.ins, s, 0x9000);
          const { handle } = p.ins;
          for (let i = 0; i < k; i++) {
            const t0 = process.hrtime.bigint();
            const r = await handle.transmit(p.apdu, { maxResponseLength: MAX_RESPONSE });
            const dt = Number(process.hrtime.bigint() - t0) / 1000;
            const sw = r.length >= 2 ? (r[r.length - 2] << 8) | r[r.length - 1] : -1;
            if (sw !== p.expectSw) throw new Error(`${p.id}: ${toHex(p.apdu)} answered ${toHex(r) || '(nothing)'}, expected ${p.expectSw.toString(16).toUpperCase()}`);
            p.samples.push(dt);
            progress++;
          }
        }
        const pct = Math.floor(((done + k) / n) * 4);
        if (pct > lastReport) {
          lastReport = pct;
          log(`pcsc:   ${(done + k).toString().padStart(4)}/${n}  ${probes.map((p) => `${p.id} median ${fmtUs(median(p.samples))}`).join(', ')}`);
        }
      }
    };

    const probe = (id: string, ins: Inserted, apdu: Uint8Array, expectSw = 0x9000, setup: Uint8Array[] = []): Probe => ({ id, ins, apdu, expectSw, setup, samples: [] });
    const oursProbes = (ins: Inserted, tag: string, verify = true) => [
      probe(`ours ${tag} SELECT`, ins, SELECT_JPKI),
      ...(verify ? [probe(`ours ${tag} VERIFY?`, ins, VERIFY_QUERY, 0x63c3, [SELECT_JPKI, SELECT_PIN_EF])] : []),
    ];
    const cardOf = (p: Probe) => `\`${p.ins.command}\``;
    const cmdOf = (p: Probe) => `${GROUP_CMD} (card: ${cardOf(p)})`;
    const note = (ins: Inserted) => (ins.quickAckUnavailable ? ` **(fix unavailable: ${ins.quickAckUnavailable})**` : '');
    const rttRow = (what: string, p: Probe, target = '(reference)', pass = true): Row => ({
      what,
      value: describeRtt(p.samples) + note(p.ins),
      target,
      pass,
      command: cmdOf(p),
    });
    const ratioRow = (what: string, a: Probe, b: Probe, target = '(reference)', limit = Infinity): Row => {
      const r = median(a.samples) / median(b.samples);
      const shown = r < 0.1 ? `${fmt(r, 4)}× (1/${fmt(1 / r)})` : `${fmt(r, 2)}×`;
      return { what, value: `${shown}: ${fmtUs(median(a.samples))} / ${fmtUs(median(b.samples))}`, target, pass: r <= limit, command: `${GROUP_CMD} (cards: ${cardOf(a)}; ${cardOf(b)})` };
    };

    // ---------------- stock Debian (no route attribute) ----------------
    const routeWasOn = routeHasQuickack();
    let stockVicc: Probe | undefined;
    if (routeWasOn) {
      log('pcsc: WARNING: the loopback route already has "quickack 1" (set by someone else): stock Debian cannot be measured now');
      rows.push({ what: 'stock Debian rows', value: '**not measured**: the loopback route attribute quickack 1 was already set by someone else', target: 'route off', pass: false, command: GROUP_CMD });
    } else {
      log(`pcsc: == stock Debian 12 (no route attribute): ${N} APDUs with the card-side fix, ${N_STALLED} without`);
      const s0 = (await ensure(0, { kind: 'myna', quickAck: true }))!;
      const s1 = (await ensure(1, { kind: 'floor', quickAck: true }))!;
      const [sel, ver] = oursProbes(s0, 'qa-on');
      const floor = probe('floor qa-on', s1, SELECT_JPKI);
      await measure('stock, card-side fix', [sel, floor, ver, floor], N, BLOCK);
      const okSel = median(sel.samples) < 250;
      const okVer = median(ver.samples) < 250;
      rows.push(rttRow('PC/SC round trip, stock Debian, **ours with card-side fix** (quickAck on): SELECT JPKI AP → 90 00', sel, 'median < 250 µs', okSel));
      rows.push(rttRow('… same, ours: VERIFY query `00 20 00 80` on EF 0018 → 63 C3', ver, 'median < 250 µs', okVer));
      rows.push(rttRow('… same setting, floor card (90 00 at once, quickAck on): same SELECT', floor));
      rows.push(ratioRow('ours/floor, stock + card-side fix in both (SELECT medians)', sel, floor));

      const o0 = (await ensure(0, { kind: 'myna', quickAck: false }))!;
      const v1 = (await ensure(1, { kind: 'vicc' }))!;
      const [selOff] = oursProbes(o0, 'qa-off', false);
      stockVicc = probe('vicc', v1, SELECT_MF);
      await measure('stock, no fix (the 40 ms stall)', [selOff, stockVicc], N_STALLED, 5);
      rows.push(rttRow('PC/SC round trip, stock Debian, vicc (no card-side fix exists): SELECT MF `00 A4 00 0C 02 3F 00` → 90 00', stockVicc, '(reference: ~44 ms)'));
      const mOff = median(selOff.samples);
      rows.push(rttRow('PC/SC round trip, stock Debian, **ours WITHOUT the fix** (quickAck off): SELECT JPKI AP', selOff, '≈ 44 ms expected (the stall)', mOff > 30_000 && mOff < 60_000));
      rows.push(ratioRow('ours/vicc, stock Debian: ours with the card-side fix vs vicc', sel, stockVicc));
      rows.push(ratioRow('ours/vicc, stock Debian, neither with a fix (both stalled)', selOff, stockVicc));
    }
    await ensure(0, undefined);
    await ensure(1, undefined);

    // ---------------- serve start → card visible ----------------
    log(`pcsc: == myna-hil serve start → PRESENT, ${SERVE_RUNS} runs with random gaps (routeWasOn=${routeWasOn})`);
    execFileSync(process.execPath, ['bin/myna-hil.mjs', '--help'], { cwd: root, stdio: 'ignore' }); // build the CLI bundle once, untimed
    const R0 = vpcdReaderName(0);
    const total: number[] = [];
    const up: number[] = [];
    const upToVisible: number[] = [];
    const visibleToPresent: number[] = [];
    const serveCmd = `node bin/myna-hil.mjs serve --card <profile.json> --slot 0 --control <tmp>/ctl.sock`;
    for (let run = 0; run < SERVE_RUNS; run++) {
      await mustBeEmpty(R0);
      // A random gap, not a wait for state: it puts the start at a random phase of pcscd's 400 ms poll.
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 700));
      let tPresent: bigint | undefined;
      let tUp: bigint | undefined;
      let tVisible: bigint | undefined;
      const stopWatching = pcsc.onStatus((s) => {
        if (s.reader === R0 && s.present && !s.mute) tPresent ??= process.hrtime.bigint();
      });
      const ctl = join(tmp, `ctl-${run}.sock`);
      const t0 = process.hrtime.bigint();
      const p = spawnTracked(process.execPath, ['bin/myna-hil.mjs', 'serve', '--card', profilePath, '--slot', '0', '--control', ctl], { stdio: ['ignore', 'pipe', 'pipe'] });
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
      const died = exitOf(p, 'myna-hil serve', stderr);
      died.catch(() => {});
      try {
        await Promise.race([Promise.all([pcsc.waitForCard(R0, 'present', { timeoutMs: 10_000 }), visibleLine]), died]);
      } finally {
        stopWatching();
        await stopProcess(p);
      }
      if (tPresent === undefined || tUp === undefined || tVisible === undefined) throw new Error(`serve run ${run + 1}: missing a time stamp`);
      const ms = (a: bigint, b: bigint) => Number(b - a) / 1e6;
      total.push(ms(t0, tPresent));
      up.push(ms(t0, tUp));
      upToVisible.push(ms(tUp, tVisible));
      visibleToPresent.push(ms(tVisible, tPresent));
      log(`pcsc:   run ${run + 1}: spawn → PRESENT ${fmt(total.at(-1)!)} ms (process up ${fmt(up.at(-1)!)} ms, up → "card visible" ${fmt(upToVisible.at(-1)!)} ms, → PRESENT +${fmt(visibleToPresent.at(-1)!, 1)} ms)`);
      await pcsc.waitForCard(R0, 'absent', { timeoutMs: 5000 });
    }
    const mm = (xs: number[], d = 0) => `median ${fmt(median(xs), d)} ms, max ${fmt(Math.max(...xs), d)} ms`;
    const totalOk = median(total) < 1000 && Math.max(...total) < 1000;
    rows.push({ what: `\`serve\` spawned → reader PRESENT at a watching client (${SERVE_RUNS} runs, random gaps)`, value: mm(total), target: '< 1000 ms (median and max)', pass: totalOk, command: `${GROUP_CMD} — \`${serveCmd}\`` });
    rows.push({ what: '… of which: spawn → process up (its "serving" line: Node start, bundle load, card built from the profile)', value: mm(up), target: '(reference)', pass: true, command: GROUP_CMD });
    rows.push({ what: '… process up → its "card visible" line (vpcd takes the card at its next poll, every 400 ms)', value: mm(upToVisible), target: '(reference: 0-400 ms)', pass: true, command: GROUP_CMD });
    rows.push({ what: '… "card visible" → PRESENT at the client (pcscd powers the card up and reports it)', value: mm(visibleToPresent, 1), target: '(reference)', pass: true, command: GROUP_CMD });

    // ---------------- route quickack 1: the same setting for all ----------------
    if (!routeWasOn) {
      log('pcsc: == loopback route quickack 1 (machine-wide, undone at the end of this group)');
      execFileSync('bash', ['scripts/pcsc-stack.sh', 'quickack-route', 'on'], { cwd: root, stdio: 'ignore' });
      routeSetByUs = true;
      if (!routeHasQuickack()) throw new Error('setting the loopback route attribute quickack 1 failed');
    }
    const r0 = (await ensure(0, { kind: 'myna', quickAck: false }))!;
    const r1 = (await ensure(1, { kind: 'vicc' }))!;
    const [rOffSel, rOffVer] = oursProbes(r0, 'qa-off');
    const rVicc = probe('vicc', r1, SELECT_MF);
    await measure('route, ours without fix vs vicc', [rOffSel, rVicc, rOffVer, rVicc], N, BLOCK);
    await ensure(1, { kind: 'floor', quickAck: false });
    const [rOffSel2] = oursProbes(slots[0]!, 'qa-off', false);
    const rFloorOff = probe('floor qa-off', slots[1]!, SELECT_JPKI);
    await measure('route, ours vs floor, no card-side fix', [rOffSel2, rFloorOff], N, BLOCK);
    await ensure(0, { kind: 'myna', quickAck: true });
    await ensure(1, { kind: 'floor', quickAck: true });
    const [rOnSel, rOnVer] = oursProbes(slots[0]!, 'qa-on');
    const rFloorOn = probe('floor qa-on', slots[1]!, SELECT_JPKI);
    await measure('route, ours vs floor, card-side fix', [rOnSel, rFloorOn, rOnVer, rFloorOn], N, BLOCK);
    await ensure(0, undefined);
    await ensure(1, undefined);
    if (routeSetByUs) {
      routeOff();
      log('pcsc: loopback route attribute removed');
    }

    const route = 'route quickack 1';
    rows.push(rttRow(`PC/SC round trip, ${route}, vicc: SELECT MF → 90 00`, rVicc));
    rows.push(rttRow(`PC/SC round trip, ${route}, ours quickAck off: SELECT JPKI AP (interleaved with vicc)`, rOffSel));
    rows.push(rttRow(`… same, ours quickAck off: VERIFY query → 63 C3`, rOffVer));
    rows.push(rttRow(`PC/SC round trip, ${route}, ours quickAck off: SELECT JPKI AP (interleaved with the floor)`, rOffSel2));
    rows.push(rttRow(`… same, floor quickAck off`, rFloorOff));
    rows.push(rttRow(`PC/SC round trip, ${route}, ours quickAck on: SELECT JPKI AP`, rOnSel));
    rows.push(rttRow(`… same, ours quickAck on: VERIFY query → 63 C3`, rOnVer));
    rows.push(rttRow(`… same, floor quickAck on`, rFloorOn));
    rows.push(ratioRow(`**ours/floor**, ${route}, both quickAck off (SELECT medians)`, rOffSel2, rFloorOff, '≤ 1.5×', 1.5));
    rows.push(ratioRow(`**ours/floor**, ${route}, both quickAck on (SELECT medians)`, rOnSel, rFloorOn, '≤ 1.5×', 1.5));
    rows.push(ratioRow(`ours/vicc, ${route}, ours quickAck off, same interleaved run`, rOffSel, rVicc));
    rows.push(ratioRow(`ours/vicc, ${route}, ours quickAck on`, rOnSel, rVicc));
    if (stockVicc) rows.push(ratioRow('vicc stock / vicc with the route (what the stall costs vicc)', stockVicc, rVicc));

    const loadEnd = loadavg();
    rows.push({ what: 'load average (1/5/15 min) at the start / end of the PC/SC group', value: `${loadStart} / ${loadEnd}`, target: '(2 cores, shared with other engineers)', pass: true, command: 'cat /proc/loadavg' });
    // The rows with the command behind each, as markdown for bench/RESULTS.md (run.ts's table has no command column).
    const cell = (t: string) => t.replaceAll('|', '\\|');
    process.stderr.write('\nbench: pcsc: rows with their commands (markdown):\n\n| what | measured | target | ok | command |\n|---|---|---|---|---|\n');
    for (const r of rows) process.stderr.write(`| ${cell(r.what)} | ${cell(r.value)} | ${cell(r.target)} | ${r.pass ? 'yes' : '**no**'} | ${cell(r.command)} |\n`);
    process.stderr.write('\n');
    return rows;
  } catch (err) {
    // Keep the other groups' results: report the failure as a row (run.ts then exits non-zero).
    const msg = (err as Error).message;
    log(`pcsc: FAILED: ${msg}`);
    rows.push({ what: 'PC/SC group (pcscd + vpcd)', value: `**failed**: ${msg}`, target: 'completes', pass: false, command: GROUP_CMD });
    return rows;
  } finally {
    if (watchdog) clearInterval(watchdog);
    for (const s of [0, 1]) {
      const cur = slots[s];
      slots[s] = undefined;
      if (cur) {
        await cur.handle.disconnect('leave').catch(() => {});
        cur.proc.kill('SIGTERM');
      }
    }
    const stopping = [...live].map((p) => new Promise<void>((r) => {
      if (p.exitCode !== null || p.signalCode !== null) return r();
      p.once('exit', () => r());
      p.kill('SIGTERM');
      setTimeout(() => p.kill('SIGKILL'), 5000).unref();
    }));
    await Promise.all(stopping);
    try {
      routeOff();
    } catch (err) {
      log(`pcsc: could not undo the loopback route (${(err as Error).message}): run \`bash scripts/pcsc-stack.sh quickack-route off\``);
    }
    await ctx?.close().catch(() => {});
    release?.();
    release = undefined;
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    tmp = undefined;
    process.off('exit', emergency);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
