/**
 * The card launchers of the PC/SC group, each card in its own process as in real use
 * (docs/pcsc-stack.md §3, §6): ours and the floor card through bench/pcsc-card.ts, vicc as Debian
 * ships it. `Slots` keeps at most one card per vpcd slot and swaps them as the measurements need.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { vpcdReaderName, type PcscCard, type PcscContext } from '../../harness/pcsc/index.ts';
import { toHex } from '../../simulator/apdu/codec.ts';
import { exitOf, stopProcess } from '../child.ts';
import { VICC, type Resources, type Setup } from './setup.ts';

const VICC_ATR = '3B951381018073FF01000B';

export type CardSpec = { kind: 'myna' | 'floor'; quickAck: boolean } | { kind: 'vicc' };

export function label(spec: CardSpec): string {
  if (spec.kind === 'vicc') return 'vicc';
  return `${spec.kind === 'myna' ? 'ours' : 'floor'} (quickAck ${spec.quickAck ? 'on' : 'off'})`;
}

const sameSpec = (a: CardSpec, b: CardSpec) => a.kind === b.kind && (a.kind === 'vicc' || (b.kind !== 'vicc' && a.quickAck === b.quickAck));

/** A card this group put into a reader. */
export interface Inserted {
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

/** Fails, naming the fix, when the reader holds a card this group did not insert. */
export async function mustBeEmpty(pcsc: PcscContext, reader: string): Promise<void> {
  try {
    await pcsc.waitForCard(reader, 'absent', { timeoutMs: 3000 });
  } catch {
    const s = pcsc.readerState(reader);
    throw new Error(
      `"${reader}" holds a card this benchmark did not insert (ATR ${s ? toHex(s.atr) : '?'}): another myna-hil serve, vicc or test ` +
        'is using the reader outside the PC/SC lock. Stop it and run the benchmark again.',
    );
  }
}

/** A started card process and what must happen before it counts as inserted. */
interface Launched {
  proc: ChildProcess;
  command: string;
  /** Resolves when the card process is ready (ours: its "visible" event, i.e. vpcd's first GET ATR). */
  ready: Promise<unknown>;
  /** Ours: the transport's start report (whether the card-side fix is available). */
  started?: Promise<{ quickAck: { available: boolean; reason?: string } }>;
}

function launchVicc(res: Resources, setup: Setup, slot: number): Launched {
  if (setup.vicc.missing.length) throw new Error(`vicc is not installed (${setup.vicc.missing.join(', ')} missing): bash scripts/pcsc-stack.sh install`);
  const port = String(35963 + slot);
  const proc = res.spawn(VICC, ['-t', 'iso7816', '-P', port], { env: setup.vicc.env, stdio: ['ignore', 'ignore', 'pipe'] });
  return { proc, command: `${setup.vicc.envLabel} ${VICC} -t iso7816 -P ${port}`, ready: Promise.resolve() };
}

/** Ours or the floor card, through bench/pcsc-card.ts, which reports on stdout in JSON lines. */
function launchOurs(res: Resources, setup: Setup, slot: number, spec: { kind: 'myna' | 'floor'; quickAck: boolean }): Launched {
  const args = [
    'bin/run-ts.mjs',
    'bench/pcsc-card.ts',
    spec.kind,
    String(slot),
    spec.quickAck ? 'on' : 'off',
    ...(spec.kind === 'myna' ? [setup.profilePath] : []),
  ];
  const proc = res.spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const events = new Map<string, (v: Record<string, unknown>) => void>();
  const on = <T>(ev: string) => new Promise<T>((r) => events.set(ev, r as (v: Record<string, unknown>) => void));
  const started = on<{ quickAck: { available: boolean; reason?: string } }>('started');
  const ready = on('visible');
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      events.get(String(o.event))?.(o);
    } catch {
      // not ours
    }
  });
  return { proc, command: `node ${args.join(' ').replace(setup.profilePath, '<profile.json>')}`, ready, started };
}

/** At most one card per vpcd slot; `ensure` swaps cards, `clear` takes them all out. */
export class Slots {
  private readonly slots: (Inserted | undefined)[] = [undefined, undefined];

  constructor(
    private readonly res: Resources,
    private readonly setup: Setup,
    private readonly log: (s: string) => void,
  ) {}

  /** The card now in `slot`. */
  at(slot: number): Inserted {
    const cur = this.slots[slot];
    if (!cur) throw new Error(`no card in slot ${slot}`);
    return cur;
  }

  /** Puts a card of `spec` into `slot` (keeping one already there), or empties the slot (`undefined`). */
  async ensure(slot: number, spec: CardSpec): Promise<Inserted>;
  async ensure(slot: number, spec: undefined): Promise<undefined>;
  async ensure(slot: number, spec: CardSpec | undefined): Promise<Inserted | undefined> {
    const cur = this.slots[slot];
    if (cur && spec && sameSpec(cur.spec, spec) && cur.proc.exitCode === null) return cur;
    if (cur) {
      this.slots[slot] = undefined;
      await this.remove(cur);
    }
    if (!spec) return undefined;
    this.log(`pcsc: inserting ${label(spec)} into "${vpcdReaderName(slot)}" …`);
    this.slots[slot] = await this.insert(slot, spec);
    return this.slots[slot];
  }

  /** Best effort, for the end of the group: disconnects and signals every card (Resources waits for the exits). */
  async clear(): Promise<void> {
    for (const s of [0, 1]) {
      const cur = this.slots[s];
      this.slots[s] = undefined;
      if (cur) {
        await cur.handle.disconnect('leave').catch(() => {});
        cur.proc.kill('SIGTERM');
      }
    }
  }

  private async remove(ins: Inserted): Promise<void> {
    await ins.handle.disconnect('leave').catch(() => {});
    await stopProcess(ins.proc);
    await this.setup.pcsc.waitForCard(ins.reader, 'absent', { timeoutMs: 5000 });
  }

  private async insert(slot: number, spec: CardSpec): Promise<Inserted> {
    const { pcsc } = this.setup;
    const reader = vpcdReaderName(slot);
    await mustBeEmpty(pcsc, reader);
    const launched = spec.kind === 'vicc' ? launchVicc(this.res, this.setup, slot) : launchOurs(this.res, this.setup, slot, spec);
    const { proc } = launched;
    const stderr: string[] = [];
    proc.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
    const died = exitOf(proc, label(spec), stderr);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${label(spec)}: not inserted within 15 s: ${this.whyNotInserted(reader, spec, stderr)}`)), 15_000);
    });
    try {
      const [st] = await Promise.race([
        Promise.all([launched.started, launched.ready, pcsc.waitForCard(reader, 'present', { timeoutMs: 15_000 })]),
        died,
        deadline,
      ]).finally(() => clearTimeout(timer));
      const state = pcsc.readerState(reader)!;
      if (spec.kind === 'vicc' && toHex(state.atr) !== VICC_ATR) throw new Error(`"${reader}" shows ATR ${toHex(state.atr)}, not vicc's`);
      const handle = await pcsc.connect(reader, { share: 'shared', protocol: 'T1' });
      const ins: Inserted = { spec, slot, reader, proc, command: launched.command, handle };
      if (spec.kind !== 'vicc' && spec.quickAck && st && !st.quickAck.available) {
        ins.quickAckUnavailable = st.quickAck.reason ?? 'unavailable';
        this.log(`pcsc: WARNING: ${label(spec)}: the card-side fix is unavailable (${ins.quickAckUnavailable})`);
      }
      return ins;
    } catch (err) {
      await stopProcess(proc);
      throw err;
    }
  }

  private whyNotInserted(reader: string, spec: CardSpec, stderr: string[]): string {
    const s = this.setup.pcsc.readerState(reader);
    return s?.present && spec.kind !== 'vicc'
      ? `"${reader}" shows a card (ATR ${toHex(s.atr)}) but vpcd never polled ours: another card took the reader ` +
          '(a myna-hil serve, vicc or test outside the PC/SC lock); stop it and run the benchmark again'
      : `"${reader}" is ${s?.present ? 'present' : 'empty'}; card output: ${stderr.join('').trim().slice(-300) || 'none'}`;
  }
}
