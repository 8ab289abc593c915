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
import { parseCommand } from '../../simulator/apdu/codec.ts';
import { redactCommand } from '../../simulator/apdu/trace.ts';
import type { ApduChannel } from '../../simulator/card/channel.ts';
import { cmd, split } from '../flows/apdu.ts';
import { AID } from '../flows/card-ref.ts';
import { PIN_KEYS, SelectionTracker } from '../flows/selection.ts';
import type { PinCounters } from '../runner/events.ts';
import { PIN_KINDS, type CardExpect, type PinKind } from '../scenario/model.ts';

export const DEFAULT_FLOOR = 2;
/** The guard's refusals map to this exit code of the runner. */
export const GUARD_EXIT_CODE = 4;

export { PIN_KEYS } from '../flows/selection.ts';

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

const ins = { verify: 0x20, change: 0x24, reset: 0x2c, changeKey: 0x32 } as const;
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
  /** The DF and EF the card has selected, as far as the guard can tell (docs/card.md §4.1). */
  private readonly selection = new SelectionTracker(commandData);
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
    this.selection.forget();
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
      const restore = { dfSelect: this.selection.dfSelect, ef: this.selection.ef };
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
    this.selection.track(command, response);
    return response;
  }

  private async guarded(command: Uint8Array): Promise<Uint8Array> {
    const p2 = command[3];
    const target = this.selection.keyAt(p2);
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
}

/** A command's data as the simulator's codec parses it; undefined when malformed. */
export function commandData(command: Uint8Array): Uint8Array | undefined {
  try {
    return parseCommand(command).data;
  } catch {
    return undefined;
  }
}

/** Tries left from a query's answer `63 Cx`, or undefined for any other answer. */
function triesOf(response: Uint8Array): number | undefined {
  if (response.length !== 2) return undefined;
  const { sw } = split(response);
  return sw >> 4 === 0x63c ? sw & 0x0f : undefined;
}
