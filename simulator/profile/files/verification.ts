/**
 * The values of the verification keys of the 券面 APs (docs/card.md §4.4): 照合番号A (My Number),
 * 照合番号B (era YYMMDD of the birth date ‖ expiry year ‖ security code, 14 digits) and the birth-date
 * key of 券面事項確認AP (era YYMMDD), as the ASCII a client sends.
 */
import type { Profile } from '../schema.ts';
import type { DerivedFiles } from '../derived.ts';
import { InputError } from '../../errors.ts';
import { eraYymmdd, EARLIEST_ERA_DATE } from '../era.ts';

function birthEra(p: Profile): string {
  try {
    return eraYymmdd(p.holder.birthDate);
  } catch (e) {
    throw new InputError(`field holder.birthDate: ${(e as Error).message} (fix: a date on or after ${EARLIEST_ERA_DATE})`);
  }
}

/** The three values; a birth date the era table cannot express is an input error naming holder.birthDate. */
export function verificationKeys(p: Profile): DerivedFiles['verification'] {
  const b = birthEra(p);
  return {
    a: p.holder.myNumber,
    b: b + p.card.expiry.slice(0, 4) + p.card.securityCode,
    birth: b,
  };
}
