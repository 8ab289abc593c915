/**
 * The physical-card guard's options, defined once for the commands that drive a physical card
 * (`myna-hil relay`, `myna-hil run --target pcsc|relay`): `--floor` and `--refuse-sw`, with their checks
 * (bad values exit 2). The guard's rules: harness/targets/guard.ts, docs/relay.md.
 */
import { InputError } from '../../simulator/errors.ts';
import { DEFAULT_FLOOR } from '../targets/guard.ts';

export const FLOOR_OPTION = {
  type: 'number',
  default: DEFAULT_FLOOR,
  describe: 'Refuse PIN commands at or below this many tries left',
} as const;

export const REFUSE_SW_OPTION = {
  type: 'string',
  default: '6983',
  describe: 'The status word a client gets for a refused command (hex)',
} as const;

/** The option as `myna-hil run` shows it: which targets it applies to, e.g. `--target pcsc or relay: refuse …`. */
export function forTargets<T extends { describe: string }>(option: T, targets: string): T {
  return { ...option, describe: `--target ${targets}: ${option.describe[0].toLowerCase()}${option.describe.slice(1)}` };
}

/** Throws InputError unless `floor` is a count of tries left (0..15). */
export function checkFloor(floor: number): void {
  if (!Number.isInteger(floor) || floor < 0 || floor > 15) throw new InputError(`--floor ${floor}: tries left are 0..15`);
}

/** `--refuse-sw` as a status word (its range is checked by the relay: an error SW 6xxx other than 60xx, 61xx, 6Cxx). */
export function parseSw(text: string): number {
  if (!/^[0-9a-fA-F]{4}$/.test(text)) throw new InputError(`--refuse-sw ${text}: expected 4 hex digits, e.g. 6983`);
  return parseInt(text, 16);
}
