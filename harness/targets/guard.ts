/**
 * The guard between the harness and a physical card (issue 8, "Targets"): a physical test card that
 * locks is gone for the lab until the municipal counter resets it, so no PIN-carrying command reaches
 * the card without first reading that key's tries left with the empty VERIFY, which costs nothing
 * (docs/card.md §4.2).
 *
 * Rules, per guarded command (a VERIFY with data, CHANGE REFERENCE DATA `24`, RESET RETRY COUNTER `2C`,
 * CHANGE KEY `32`):
 * - the query `00 20 00 <same P2>` reads the tries left of the key the command acts on (P2 `80` = the
 *   current EF, `80` + SFI = that EF of the current DF, docs/card.md §4.1);
 * - above the floor (default 2 tries left): forwarded;
 * - at or below it: refused with {@link GuardRefused}, unless the run allows destructive steps AND the
 *   scenario is destructive; the lab's own value of that PIN may still be sent with 2 tries left (a
 *   right entry restores the counter), never with 1;
 * - a query that does not answer `63 Cx`: refused (the guard cannot know what the command would cost).
 *
 * The guard follows the SELECTs it sees to name the key in messages (`auth PIN`, `sign password`, …)
 * and to know which lab value applies; what it does not understand makes the key unknown, and an
 * unknown key never gets the lab-value exception.
 */
import { parseCommand, toHex } from '../../simulator/apdu/codec.ts';
import { redactCommand } from '../../simulator/apdu/trace.ts';
import type { ApduChannel } from '../../simulator/card/channel.ts';
import { cmd, split } from '../flows/apdu.ts';
import { AID, EF } from '../flows/card-ref.ts';
import type { PinCounters } from '../runner/events.ts';
import { PIN_KINDS, type CardExpect, type PinKind } from '../scenario/model.ts';

export const DEFAULT_FLOOR = 2;
/** The guard's refusals map to this exit code of the runner. */
export const GUARD_EXIT_CODE = 4;

type AppName = keyof typeof AID;

/** Where each user PIN lives, its retry limit and its name in messages (docs/card.md §3, §4.1). */
export const PIN_KEYS: Readonly<Record<PinKind, { app: AppName; fid: number; max: number; label: string }>> = {
  auth: { app: 'jpki', fid: EF.jpki.authPin, max: 3, label: 'auth PIN' },
  sign: { app: 'jpki', fid: EF.jpki.signPin, max: 5, label: 'sign password' },
  kenmen: { app: 'text', fid: EF.text.pin, max: 3, label: 'kenmen PIN' },
  juki: { app: 'juki', fid: EF.juki.pin, max: 3, label: 'juki PIN' },
  common: { app: 'common', fid: EF.common.pin, max: 3, label: 'common PIN' },
};

/** The guard refused to send a command (exit code 4). Never carries a PIN value. */
export class GuardRefused extends Error {
  readonly exitCode = GUARD_EXIT_CODE;
  constructor(
    message: string,
    /** The PIN, when the guard knows which one. */
    readonly pin?: PinKind,
    readonly triesLeft?: number,
  ) {
    super(message);
    this.name = 'GuardRefused';
  }
}

/** A PIN's count dropped in a way the scenario did not expect: the run stops (exit code 4). */
export class UnexpectedDrop extends GuardRefused {
  constructor(
    message: string,
    readonly drops: Array<{ pin: PinKind; before: number; after: number }>,
  ) {
    super(message, drops[0]?.pin, drops[0]?.after);
    this.name = 'UnexpectedDrop';
  }
}

/** What the guard did, for the run's log and reports: commands are redacted, never a PIN value. */
export type GuardEvent =
  | { type: 'allowed'; key: string; triesLeft: number | undefined; command: string; why: 'above the floor' | 'lab value' | 'destructive' }
  | { type: 'refused'; key: string; triesLeft: number | undefined; command: string; message: string }
  | { type: 'drop'; message: string; drops: Array<{ pin: PinKind; before: number; after: number }> };

export interface GuardOptions {
  /** Refuse at or below this many tries left (default {@link DEFAULT_FLOOR}). */
  floor?: number;
  /** The run's `--allow-destructive`. */
  allowDestructive?: boolean;
  /** The current scenario's `destructive: true` (see {@link GuardedChannel.setScenario}). */
  destructive?: boolean;
  /** The lab's values of the card's PINs: each may be sent with 2 tries left. */
  labPins?: Partial<Record<PinKind, string>>;
  onEvent?: (event: GuardEvent) => void;
}

const ins = { select: 0xa4, readBinary: 0xb0, readRecord: 0xb2, verify: 0x20, change: 0x24, reset: 0x2c, changeKey: 0x32 } as const;
const SW_OK = 0x9000;

const plural = (n: number): string => `${n} ${n === 1 ? 'try' : 'tries'} left`;
const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** Which commands are guarded: a VERIFY with data (not the query) and every change / reset of a key. */
export function isGuarded(command: Uint8Array): boolean {
  if (command.length < 4) return false; // the card answers 67 00; nothing to protect
  const i = command[1];
  if (i === ins.change || i === ins.reset || i === ins.changeKey) return true;
  if (i !== ins.verify) return false;
  try {
    return parseCommand(command).data.length > 0;
  } catch {
    return true; // a malformed VERIFY may still carry a value: guard it, the query costs nothing
  }
}

export class GuardedChannel implements ApduChannel {
  readonly events: GuardEvent[] = [];
  private readonly floor: number;
  private readonly allowDestructive: boolean;
  private destructive: boolean;
  private readonly labPins: Partial<Record<PinKind, Uint8Array>>;
  /** The DF and EF the card has selected, as far as the guard can tell (undefined: unknown). */
  private df: AppName | 'other' | undefined;
  private ef: number | undefined;
  /** The SELECT that chose the current DF, replayed to restore the selection after {@link counters}. */
  private dfSelect: Uint8Array | undefined;
  /** Serialises exchanges: a query and its command must not interleave with another caller's. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly inner: ApduChannel,
    private readonly options: GuardOptions = {},
  ) {
    this.floor = options.floor ?? DEFAULT_FLOOR;
    this.allowDestructive = options.allowDestructive ?? false;
    this.destructive = options.destructive ?? false;
    this.labPins = Object.fromEntries(Object.entries(options.labPins ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'latin1'))]));
  }

  /** Per scenario: may this one spend the last tries (only with the run's `--allow-destructive`)? */
  setScenario(scenario: { destructive: boolean }): void {
    this.destructive = scenario.destructive;
  }

  /** The card was reset or reconnected: nothing is selected any more. */
  forgetSelection(): void {
    this.df = undefined;
    this.ef = undefined;
    this.dfSelect = undefined;
  }

  transmit(command: Uint8Array): Promise<Uint8Array> {
    return this.serial(() => (isGuarded(command) ? this.guarded(command) : this.exchange(command)));
  }

  /**
   * Every user PIN's tries left, read with queries (SELECT AP, SELECT EF, `00 20 00 80`): nothing is
   * spent. The selection the guard knew is restored afterwards (an unknown one cannot be), so a client
   * rarely notices; still, call it between steps rather than inside one. A PIN whose AP or key the card
   * does not have is left out.
   */
  counters(): Promise<PinCounters> {
    return this.serial(async () => {
      const restore = { dfSelect: this.dfSelect, ef: this.ef };
      const out: PinCounters = {};
      for (const pin of PIN_KINDS) {
        const key = PIN_KEYS[pin];
        if (split(await this.exchange(cmd.selectAp(AID[key.app]))).sw !== SW_OK) continue;
        if (split(await this.exchange(cmd.selectEf(key.fid))).sw !== SW_OK) continue;
        const tries = triesOf(await this.exchange(cmd.verify()));
        if (tries !== undefined) out[pin] = { triesLeft: tries, max: key.max, locked: tries === 0 };
      }
      if (restore.dfSelect) {
        await this.exchange(restore.dfSelect);
        if (restore.ef !== undefined) await this.exchange(cmd.selectEf(restore.ef));
      }
      return out;
    });
  }

  /**
   * Compares counters read before and after a step: a PIN whose tries left dropped, unless `expected`
   * names exactly that count (or a lock the PIN reached), is an unexpected drop. Returns the error
   * naming every such PIN and its tries left (the runner stops the run with it), or undefined.
   */
  checkDrop(before: PinCounters, after: PinCounters, expected: CardExpect = {}): UnexpectedDrop | undefined {
    const drops: Array<{ pin: PinKind; before: number; after: number }> = [];
    for (const pin of PIN_KINDS) {
      const b = before[pin];
      const a = after[pin];
      if (!b || !a || a.triesLeft >= b.triesLeft) continue;
      const e = expected[pin];
      const foreseen = e !== undefined && (e.triesLeft === a.triesLeft || (e.locked === true && a.locked));
      if (!foreseen) drops.push({ pin, before: b.triesLeft, after: a.triesLeft });
    }
    if (drops.length === 0) return undefined;
    const what = drops.map((d) => `${PIN_KEYS[d.pin].label} dropped from ${d.before} to ${d.after} (has ${plural(d.after)})`).join('; ');
    const message = `guard stopped the run: ${what}, which the scenario did not expect`;
    this.record({ type: 'drop', message, drops });
    return new UnexpectedDrop(message, drops);
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private record(event: GuardEvent): void {
    this.events.push(event);
    this.options.onEvent?.(event);
  }

  /** Sends one command and follows what it selected. */
  private async exchange(command: Uint8Array): Promise<Uint8Array> {
    const response = await this.inner.transmit(command);
    this.track(command, response);
    return response;
  }

  private async guarded(command: Uint8Array): Promise<Uint8Array> {
    const p2 = command[3];
    const target = this.keyAt(p2);
    const name = target.pin ? PIN_KEYS[target.pin].label : target.label;
    const tries = triesOf(await this.exchange(Uint8Array.of(0x00, ins.verify, 0x00, p2)));
    const shown = redactCommand(command);
    const allow = (why: 'above the floor' | 'lab value' | 'destructive') => {
      this.record({ type: 'allowed', key: name, triesLeft: tries, command: shown, why });
      return this.exchange(command);
    };
    if (this.allowDestructive && this.destructive) return allow('destructive');
    if (tries !== undefined && tries > this.floor) return allow('above the floor');
    if (tries !== undefined && tries >= 2 && this.isLabValue(command, target.pin)) return allow('lab value');
    const message =
      tries === undefined
        ? `guard refused: cannot read the tries left of the ${name} (its query did not answer 63 Cx), so ${shown} was not sent`
        : `guard refused: ${name} has ${plural(tries)} — ${shown} was not sent (floor ${this.floor}; ` +
          'a scenario that means to spend it says destructive: true and the run needs --allow-destructive)';
    this.record({ type: 'refused', key: name, triesLeft: tries, command: shown, message });
    throw new GuardRefused(message, target.pin, tries);
  }

  /** A VERIFY whose value is the lab's own value of a known PIN (a right entry restores the counter). */
  private isLabValue(command: Uint8Array, pin: PinKind | undefined): boolean {
    const lab = pin && this.labPins[pin];
    if (!lab || command[1] !== ins.verify) return false;
    try {
      return equalBytes(parseCommand(command).data, lab);
    } catch {
      return false;
    }
  }

  /** The key a P2 names: `80` the current EF, `80` + SFI that EF of the current DF (FID = SFI here). */
  private keyAt(p2: number): { pin?: PinKind; label: string } {
    const fid = p2 === 0x80 ? this.ef : p2 > 0x80 && p2 <= 0x9e ? p2 & 0x1f : undefined;
    const df = this.df;
    if (fid === undefined || df === undefined || df === 'other') return { label: 'current key (not known to the guard)' };
    const pin = PIN_KINDS.find((k) => PIN_KEYS[k].app === df && PIN_KEYS[k].fid === fid);
    return { pin, label: `key ${toHex(Uint8Array.of(fid >> 8, fid & 0xff))} of the ${df} AP` };
  }

  /** Follows the selection from what the card answered; whatever is not understood becomes unknown. */
  private track(command: Uint8Array, response: Uint8Array): void {
    if (command.length < 4) return;
    const sw = response.length >= 2 ? split(response).sw : -1;
    if (command[1] === ins.select) {
      this.trackSelect(command, sw);
      return;
    }
    const sfi = sfiNamed(command);
    if (sfi === undefined) return;
    // a command that reaches an EF by SFI makes it the current EF (docs/card.md §4.1, §5)
    this.ef = sw === SW_OK || sw >> 4 === 0x63c ? sfi : undefined;
  }

  private trackSelect(command: Uint8Array, sw: number): void {
    let data: Uint8Array | undefined;
    try {
      data = parseCommand(command).data;
    } catch {
      data = undefined;
    }
    const p1 = command[2];
    if (sw !== SW_OK || !data) {
      this.forgetSelection();
    } else if (p1 === 0x04) {
      const aid = data;
      this.df = (Object.keys(AID) as AppName[]).find((app) => equalBytes(AID[app], aid)) ?? 'other';
      this.ef = undefined;
      this.dfSelect = command.slice();
    } else if (p1 === 0x02 && data.length === 2) {
      this.ef = (data[0] << 8) | data[1];
    } else {
      this.forgetSelection();
    }
  }
}

/** The SFI a command names in P2 (VERIFY, changes: `80` + SFI) or P1 / P2 (READ BINARY, READ RECORD). */
function sfiNamed(command: Uint8Array): number | undefined {
  const [, i, p1, p2] = command;
  if ((i === ins.verify || i === ins.change || i === ins.changeKey || i === ins.reset) && p2 > 0x80 && p2 <= 0x9e) return p2 & 0x1f;
  if (i === ins.readBinary && p1 & 0x80) return p1 & 0x1f;
  if (i === ins.readRecord && p2 >> 3) return p2 >> 3;
  return undefined;
}

/** Tries left from a query's answer `63 Cx`, or undefined for any other answer. */
function triesOf(response: Uint8Array): number | undefined {
  if (response.length !== 2) return undefined;
  const { sw } = split(response);
  return sw >> 4 === 0x63c ? sw & 0x0f : undefined;
}
