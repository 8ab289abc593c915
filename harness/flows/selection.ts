/**
 * Which application and EF a card has selected, followed from the commands a client sent and what the
 * card answered (docs/card.md §4.1, §5, §9.2, §9.3): whatever is not understood makes the selection
 * unknown. Shared by the guard (harness/targets/guard.ts: which key a PIN command acts on) and the
 * replay (harness/session/replay.ts: which PIN a masked VERIFY carried).
 */
import { PIN_KINDS, type PinKind } from '../scenario/model.ts';
import { split } from './apdu.ts';
import { AID, EF } from './card-ref.ts';

export type AppName = keyof typeof AID;

/** Where each user PIN lives, its retry limit and its name in messages (docs/card.md §3, §4.1). */
export const PIN_KEYS: Readonly<Record<PinKind, { app: AppName; fid: number; max: number; label: string }>> = {
  auth: { app: 'jpki', fid: EF.jpki.authPin, max: 3, label: 'auth PIN' },
  sign: { app: 'jpki', fid: EF.jpki.signPin, max: 5, label: 'sign password' },
  kenmen: { app: 'text', fid: EF.text.pin, max: 3, label: 'kenmen PIN' },
  juki: { app: 'juki', fid: EF.juki.pin, max: 3, label: 'juki PIN' },
  common: { app: 'common', fid: EF.common.pin, max: 3, label: 'common PIN' },
};

const ins = { select: 0xa4, readBinary: 0xb0, readRecord: 0xb2, verify: 0x20, change: 0x24, reset: 0x2c, changeKey: 0x32 } as const;
const SW_OK = 0x9000;

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * The data field of a command, or undefined when it is malformed. Given by the user of the tracker:
 * the flows keep no parser of their own (tests/harness/flows.test.ts), and the guard's answer to a
 * malformed SELECT must stay what the simulator's codec says.
 */
export type CommandData = (command: Uint8Array) => Uint8Array | undefined;

export class SelectionTracker {
  /** The DF and EF the card has selected, as far as can be told (undefined: unknown). */
  df: AppName | 'other' | undefined;
  ef: number | undefined;
  /** The SELECT that chose the current DF (the guard replays it to restore the selection). */
  dfSelect: Uint8Array | undefined;

  constructor(private readonly dataOf: CommandData) {}

  /** The card was reset or reconnected: nothing is selected any more. */
  forget(): void {
    this.df = undefined;
    this.ef = undefined;
    this.dfSelect = undefined;
  }

  /** The key a P2 names: `80` the current EF, `80` + SFI that EF of the current DF (FID = SFI here). */
  keyAt(p2: number): { pin?: PinKind; label: string } {
    const fid = p2 === 0x80 ? this.ef : p2 > 0x80 && p2 <= 0x9e ? p2 & 0x1f : undefined;
    const df = this.df;
    if (fid === undefined || df === undefined || df === 'other') return { label: 'current key (not known to the guard)' };
    const pin = PIN_KINDS.find((k) => PIN_KEYS[k].app === df && PIN_KEYS[k].fid === fid);
    return { pin, label: `key ${fid.toString(16).toUpperCase().padStart(4, '0')} of the ${df} AP` };
  }

  /** Follows the selection from what the card answered; whatever is not understood becomes unknown. */
  track(command: Uint8Array, response: Uint8Array): void {
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
    const data = this.dataOf(command);
    const p1 = command[2];
    if (sw !== SW_OK || !data) {
      this.forget();
    } else if (p1 === 0x04) {
      const aid = data;
      this.df = (Object.keys(AID) as AppName[]).find((app) => equalBytes(AID[app], aid)) ?? 'other';
      this.ef = undefined;
      this.dfSelect = command.slice();
    } else if (p1 === 0x02 && data.length === 2) {
      this.ef = (data[0] << 8) | data[1];
    } else {
      this.forget();
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
